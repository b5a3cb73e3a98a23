/*
 * fault.h - named crash points for the crash-safety tests.
 *
 * What it is: fault_point("name") kills the daemon with SIGKILL, exactly
 * like `kill -9`, when the environment variable TIERFS_FAULT equals that
 * name (optionally "name:N" to die the N-th time it is reached). The tests
 * use it to stop a migration between its steps (written but not committed,
 * committed but old copy not released) and check what a remount recovers.
 * What it is not: a general fault framework; without TIERFS_FAULT it is a
 * getenv() and a return.
 */
#ifndef TIERFS_FAULT_H
#define TIERFS_FAULT_H

void fault_point(const char *name);

#endif
