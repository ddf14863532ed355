/* Child processes of the process tests (see daemon_test_proc.h). */
#include "daemon_test_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

/* Read by the SIGALRM handler. A slot holds a child's pid, or 0 or -1
 * when free. */
static volatile pid_t g_children[DT_PROC_MAX];
static const char *g_timeout_who = "process test";

static bool remember(pid_t pid)
{
    for (int i = 0; i < DT_PROC_MAX; i++)
        if (g_children[i] <= 0) {
            g_children[i] = pid;
            return true;
        }
    return false;
}

static void forget(pid_t pid)
{
    for (int i = 0; i < DT_PROC_MAX; i++)
        if (g_children[i] == pid)
            g_children[i] = -1;
}

static bool room(void)
{
    for (int i = 0; i < DT_PROC_MAX; i++)
        if (g_children[i] <= 0)
            return true;
    return false;
}

pid_t dt_proc_spawn(const char *const *argv, const char *log_path, const char *env_name,
                    const char *env_value)
{
    if (!argv || !argv[0] || !log_path || !room())
        return -1;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 2);
        dup2(fd, 1);
        if (env_name)
            setenv(env_name, env_value, 1);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(fd);
    if (pid > 0)
        remember(pid);
    return pid;
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int dt_proc_wait(pid_t pid)
{
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    forget(pid);
    return r == pid ? exit_code(status) : -1;
}

int dt_proc_wait_for(pid_t pid, unsigned timeout_ms)
{
    for (unsigned waited = 0;; waited += 10) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            forget(pid);
            return r == pid ? exit_code(status) : -1;
        }
        if (waited >= timeout_ms)
            return -2;
        g_usleep(10000);
    }
}

void dt_proc_kill_all(void)
{
    for (int i = 0; i < DT_PROC_MAX; i++) {
        pid_t pid = g_children[i];
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            g_children[i] = -1;
        }
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    /* Async-signal-safe only: kill, write, _exit. */
    for (int i = 0; i < DT_PROC_MAX; i++)
        if (g_children[i] > 0)
            kill(g_children[i], SIGKILL);
    ssize_t w = write(2, g_timeout_who, strlen(g_timeout_who));
    static const char msg[] = ": global timeout\n";
    w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

void dt_proc_set_timeout(unsigned seconds, const char *who)
{
    g_timeout_who = who;
    signal(SIGALRM, on_alarm);
    alarm(seconds);
}

int dt_proc_run(const char *bin, const char *const *args, bool clean_env, char **out, char **err)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(bin));
    for (size_t i = 0; args && args[i]; i++)
        g_ptr_array_add(argv, g_strdup(args[i]));
    g_ptr_array_add(argv, NULL);
    static char path_only[] = "PATH=/usr/bin:/bin";
    char *envp[] = {path_only, NULL};
    int status = -1;
    GError *gerr = NULL;
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, clean_env ? envp : NULL,
                               G_SPAWN_DEFAULT, NULL, NULL, out, err, &status, &gerr);
    g_ptr_array_free(argv, TRUE);
    if (!ok) {
        fprintf(stderr, "cannot run %s: %s\n", bin, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    return exit_code(status);
}

char *dt_read_file(const char *path)
{
    char *text = NULL;
    if (!path || !g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}

bool dt_text_has_hex(const char *text, const uint8_t *secret, size_t len)
{
    size_t n = len < 8 ? len : 8;
    if (!text || n == 0)
        return false;
    char lo[2 * 8 + 1], up[2 * 8 + 1], colon[3 * 8];
    for (size_t j = 0; j < n; j++) {
        g_snprintf(lo + 2 * j, 3, "%02x", secret[j]);
        g_snprintf(up + 2 * j, 3, "%02X", secret[j]);
        g_snprintf(colon + 3 * j, 4, j + 1 < n ? "%02X:" : "%02X", secret[j]);
    }
    return strstr(text, lo) || strstr(text, up) || strstr(text, colon);
}
