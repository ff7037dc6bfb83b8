/* bfd.h refuses to be included unless the includer says it is part of a
 * configured package (it checks for config.h's PACKAGE macros). */
#ifndef BFD_CONFIG_H
#define BFD_CONFIG_H

#include "config.h"
#include <bfd.h>

#endif
