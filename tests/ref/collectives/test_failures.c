#include <criterion/criterion.h>
Test(collectives_failures, placeholder) {}
