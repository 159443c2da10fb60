# rdv_sanitize_prefault(<dir>)
#
# Adds cmake/sanitize_prefault.c (why: its header) to every executable
# defined in <dir> and the directories below it. Called once, after every
# add_subdirectory, in a sanitizer build. Executables only: the libraries
# are installed and exported, and a program is where a fork happens.
function(rdv_sanitize_prefault dir)
  if(NOT TARGET rdv_sanitize_prefault)
    add_library(rdv_sanitize_prefault OBJECT
      ${PROJECT_SOURCE_DIR}/cmake/sanitize_prefault.c)
  endif()
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_sources(${target} PRIVATE $<TARGET_OBJECTS:rdv_sanitize_prefault>)
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir IN LISTS subdirs)
    rdv_sanitize_prefault(${subdir})
  endforeach()
endfunction()
