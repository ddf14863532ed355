/* Child processes of the process tests (tests/integration): the daemons
 * and endpoints they start, with their output in a log file. Every child
 * started here is remembered until it is reaped, so that a failing test
 * (its teardown calls dt_proc_kill_all) or the global timeout leaves no
 * daemon running behind it. Also: running a binary to completion (command
 * line tests), reading a log, and looking for a secret's hex in it. */
#ifndef PERC_DAEMON_TEST_PROC_H
#define PERC_DAEMON_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How many children may be alive at once. */
#define DT_PROC_MAX 16

/* Starts argv[0] with argv (NULL-terminated), stdout and stderr into
 * log_path (created 0600, truncated), env_name=env_value added to the
 * environment when env_name is set. Returns the pid, or -1 (fork failed, or
 * DT_PROC_MAX children alive). */
pid_t dt_proc_spawn(const char *const *argv, const char *log_path, const char *env_name,
                    const char *env_value);

/* Waits for pid to end and forgets it. Returns its exit code, -1 when it
 * did not exit normally (a signal) or is not our child. */
int dt_proc_wait(pid_t pid);

/* As dt_proc_wait, for up to timeout_ms: returns -2 if pid is still
 * running then (it stays remembered). */
int dt_proc_wait_for(pid_t pid, unsigned timeout_ms);

/* SIGKILLs and reaps every remembered child. */
void dt_proc_kill_all(void);

/* After `seconds`, SIGKILLs every remembered child, writes
 * "<who>: global timeout" to stderr and exits 1: a hung test fails. */
void dt_proc_set_timeout(unsigned seconds, const char *who);

/* Runs bin with args (NULL-terminated, without argv[0]) to completion; its
 * stdout and stderr go to *out and *err (g_free; either pointer may be
 * NULL to discard it). clean_env: the child gets only PATH, none of the
 * caller's PERC_* variables. Returns the exit code, -1 when it did not
 * exit normally or could not be started. */
int dt_proc_run(const char *bin, const char *const *args, bool clean_env, char **out, char **err);

/* The whole file, or "" when it cannot be read (g_free either way). */
char *dt_read_file(const char *path);

/* Whether the first min(len, 8) octets of secret appear in text as hex:
 * lower case, upper case, or colon-separated upper case. */
bool dt_text_has_hex(const char *text, const uint8_t *secret, size_t len);

#endif
