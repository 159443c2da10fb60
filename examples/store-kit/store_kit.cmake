# store_kit.cmake - how the etcd and ZooKeeper plugins are built, in one
# place: a MODULE library (made to be dlopen()ed, never linked against)
# from the plugin's sources plus store_kit.c, compiled against rdv's
# headers only, exporting only rdv_store_plugin_v1, and installed into
# <libdir>/rdv.
#
# rdv's headers come from the in-tree target when the plugin is built
# inside rdv, else from an installed rdv (its CMake package, or
# pkg-config).
include(GNUInstallDirs)
find_package(Threads REQUIRED)

if(TARGET rdv)
  get_target_property(STORE_KIT_RDV_INCLUDES rdv INTERFACE_INCLUDE_DIRECTORIES)
else()
  find_package(rdv CONFIG QUIET)
  if(TARGET rdv::rdv)
    get_target_property(STORE_KIT_RDV_INCLUDES rdv::rdv INTERFACE_INCLUDE_DIRECTORIES)
  else()
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(RDV REQUIRED rdv)
    set(STORE_KIT_RDV_INCLUDES ${RDV_INCLUDE_DIRS})
  endif()
endif()

# store_kit_missing(WHY): the plugin's client library is missing. Inside
# rdv's build the plugin is skipped, saying so (return() leaves the
# plugin's CMakeLists.txt); built on its own, it is an error.
macro(store_kit_missing why)
  if(TARGET rdv)
    message(STATUS "rdv: ${why}: ${PROJECT_NAME} is not built")
    return()
  endif()
  message(FATAL_ERROR "${why}")
endmacro()

# store_kit_plugin(TARGET SOURCES src... LIBS lib...)
function(store_kit_plugin target)
  cmake_parse_arguments(PLUGIN "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${target} MODULE ${PLUGIN_SOURCES}
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/store_kit.c)
  set_target_properties(${target} PROPERTIES
    C_STANDARD 11
    C_EXTENSIONS ON
    C_VISIBILITY_PRESET hidden) # export only rdv_store_plugin_v1
  target_include_directories(${target} PRIVATE ${STORE_KIT_RDV_INCLUDES}
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  target_link_libraries(${target} PRIVATE ${PLUGIN_LIBS} Threads::Threads)
  # Never unloaded by dlclose(): the client library's threads and global
  # state (libcurl's init, ZooKeeper's logging) outlive a store handle.
  target_link_options(${target} PRIVATE -Wl,-z,nodelete)
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/rdv)
endfunction()
