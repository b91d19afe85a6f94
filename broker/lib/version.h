/*
 * version.h - the version that --version prints.  The Makefile defines
 * BROKER_VERSION from its VERSION; a build that does not (a static
 * analyser given the sources alone) says so rather than failing.
 */
#ifndef BRK_VERSION_H
#define BRK_VERSION_H

#ifndef BROKER_VERSION
#define BROKER_VERSION "(unversioned build)"
#endif

#endif
