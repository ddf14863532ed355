/* perc-tool identity: the DTLS identity of an endpoint, as perc-endpoint's
 * --identity DIR reads it: DIR/cert.pem (a self-signed certificate) and
 * DIR/key.pem (its ECDSA P-256 private key, unencrypted PKCS#8, mode 0600).
 *
 *   identity new DIR    makes both and prints the certificate fingerprint
 *   identity show DIR   prints the fingerprint of an existing identity
 *
 * The fingerprint ("sha-256 AB:CD:...", RFC 8122 §5) is what a KMF roster
 * names (kmf/README.md) and what the endpoint's offer carries in
 * a=fingerprint. The private key is never printed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "cli.h"
#include "commands.h"
#include "perc/dtls.h"

static const char USAGE[] =
    "usage: perc-tool identity new DIR [--name CN] [--force]\n"
    "       perc-tool identity show DIR\n"
    "\n"
    "new: writes a fresh endpoint DTLS identity, DIR/cert.pem (self-signed,\n"
    "ECDSA P-256, SHA-256) and DIR/key.pem (its private key, mode 0600),\n"
    "creating DIR (mode 0700) if needed, and prints the certificate's\n"
    "fingerprint as 'sha-256 AB:CD:...' for a KMF roster. --name sets the\n"
    "certificate's common name (default perc-endpoint); existing files are\n"
    "kept unless --force. Use it with perc-endpoint --identity DIR.\n"
    "show: prints the fingerprint of DIR/cert.pem.\n";

static int print_fingerprint(const cli_cmd *cmd, X509 *cert)
{
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    char text[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    int rc = perc_dtls_cert_fingerprint(cert, fp);
    if (rc == PERC_OK)
        rc = perc_dtls_fingerprint_format(fp, text, sizeof text);
    if (rc != PERC_OK)
        return cli_perc_fail(cmd, rc, "fingerprint");
    printf("sha-256 %s\n", text);
    return CLI_EXIT_OK;
}

/* Creates path for writing with the given mode; with force an existing
 * file is replaced (its mode set again), otherwise it is an error. Never
 * follows a symbolic link at path. */
static FILE *create_file(const cli_cmd *cmd, const char *path, mode_t mode, bool force, int *code)
{
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        *code = cli_fail(cmd, errno == EEXIST ? CLI_EXIT_USAGE : CLI_EXIT_FAILED,
                         "%s: %s%s", path, strerror(errno),
                         errno == EEXIST ? " (use --force to replace it)" : "");
        return NULL;
    }
    if (fchmod(fd, mode) != 0) {
        *code = cli_fail(cmd, CLI_EXIT_FAILED, "%s: chmod: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        *code = cli_fail(cmd, CLI_EXIT_FAILED, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static int run_new(cli_cmd *cmd, const char *dir)
{
    int code = CLI_EXIT_FAILED;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    char key_path[4096], cert_path[4096];
    const char *cn = cli_has(cmd, "name") ? cli_find(cmd, "name")->value : "perc-endpoint";
    bool force = cli_has(cmd, "force");
    if ((size_t)snprintf(key_path, sizeof key_path, "%s/key.pem", dir) >= sizeof key_path ||
        (size_t)snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir) >= sizeof cert_path)
        return cli_fail(cmd, CLI_EXIT_USAGE, "DIR is too long");
    if (strlen(cn) == 0 || strlen(cn) > 64)
        return cli_fail(cmd, CLI_EXIT_USAGE, "--name: 1..64 characters");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cli_fail(cmd, CLI_EXIT_FAILED, "%s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail(cmd, CLI_EXIT_USAGE, "%s is not a directory", dir);
    int rc = perc_dtls_identity_generate(cn, &cert, &key);
    if (rc != PERC_OK)
        return cli_perc_fail(cmd, rc, "generating the identity");

    /* The key first, created 0600 from the start: it is never readable by
     * others, not even for a moment. */
    FILE *f = create_file(cmd, key_path, 0600, force, &code);
    if (!f)
        goto out;
    bool ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        code = cli_fail(cmd, CLI_EXIT_FAILED, "%s: cannot write the key", key_path);
        goto out;
    }
    f = create_file(cmd, cert_path, 0644, force, &code);
    if (!f) {
        if (unlink(key_path) != 0) {
            /* The key without its certificate is useless but harmless
             * (0600); the error about the certificate was reported. */
        }
        goto out;
    }
    ok = PEM_write_X509(f, cert) == 1;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        code = cli_fail(cmd, CLI_EXIT_FAILED, "%s: cannot write the certificate", cert_path);
        goto out;
    }
    code = print_fingerprint(cmd, cert);
out:
    X509_free(cert);
    EVP_PKEY_free(key); /* OpenSSL clears the private scalar when freeing */
    return code;
}

static int run_show(cli_cmd *cmd, const char *dir)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/cert.pem", dir) >= sizeof path)
        return cli_fail(cmd, CLI_EXIT_USAGE, "DIR is too long");
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail(cmd, CLI_EXIT_USAGE, "%s: %s", path, strerror(errno));
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert)
        return cli_fail(cmd, CLI_EXIT_USAGE, "%s: not a PEM certificate", path);
    int code = print_fingerprint(cmd, cert);
    X509_free(cert);
    return code;
}

int cmd_identity(int argc, char **argv)
{
    static cli_opt opts[] = {{"name", true, NULL, false}, {"force", false, NULL, false}};
    cli_cmd cmd = {"perc-tool identity", USAGE, opts, 2, {0}, 0, 1};
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(USAGE, stdout);
        return CLI_EXIT_OK;
    }
    bool is_new = argc >= 1 && strcmp(argv[0], "new") == 0;
    bool is_show = argc >= 1 && strcmp(argv[0], "show") == 0;
    if (!is_new && !is_show)
        return cli_fail(&cmd, CLI_EXIT_USAGE, "expected 'new' or 'show' (see --help)");
    cmd.prog = is_new ? "perc-tool identity new" : "perc-tool identity show";
    if (is_show)
        cmd.n_opts = 0;
    int rc = cli_parse(&cmd, argc - 1, argv + 1);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (cmd.n_pos != 1)
        return cli_fail(&cmd, CLI_EXIT_USAGE, "expected one DIR (see --help)");
    return is_new ? run_new(&cmd, cmd.pos[0]) : run_show(&cmd, cmd.pos[0]);
}
