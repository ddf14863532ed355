/* Invariant I3 under valgrind: libperc's comparisons of secrets neither
 * branch on the secret bytes nor use them to form an address.
 *
 * The technique (known as ctgrind): memcheck tracks which bytes are
 * "undefined" and reports any conditional jump or memory address that
 * depends on them. Marking a secret undefined turns that tracking into a
 * taint: a comparison that stops at the first differing byte, or indexes a
 * table by key bytes, is reported. The verdict of a comparison is meant to
 * be revealed, so it is marked defined before the program looks at it.
 *
 * Run it only under valgrind (secret_compare_ct.sh does): without valgrind
 * the marks do nothing and the program refuses to run. `--control` runs an
 * early-exit comparison instead, which memcheck must report: proof that the
 * check can fail. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "perc/ekt.h"
#include "perc/secret.h"

#define KEY_LEN 32

static int failures;

/* The verdict, revealed: defined from here on. */
static bool reveal(bool verdict)
{
    bool v = verdict; /* in memory: the request below takes its address */
    VALGRIND_MAKE_MEM_DEFINED(&v, sizeof v);
    return v;
}

static void expect(bool got, bool want, const char *what)
{
    if (got != want) {
        fprintf(stderr, "secret_compare_ct: %s: got %s\n", what, got ? "equal" : "different");
        failures++;
    }
}

static void taint(void *p, size_t len)
{
    VALGRIND_MAKE_MEM_UNDEFINED(p, len);
}

/* A comparison that leaks where the first difference is: what I3 forbids. */
static bool leaky_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* perc_secret_equal on equal keys and on keys that differ first at their
 * first, middle and last octet (where an early exit would show). */
static void check_secret_equal(bool control)
{
    static const size_t where[] = {0, KEY_LEN / 2, KEY_LEN - 1};
    uint8_t a[KEY_LEN], b[KEY_LEN];
    for (size_t i = 0; i < KEY_LEN; i++)
        a[i] = (uint8_t)(0x5c ^ i * 7);
    memcpy(b, a, sizeof b);
    taint(a, sizeof a);
    taint(b, sizeof b);
    bool same = control ? leaky_equal(a, b, KEY_LEN) : perc_secret_equal(a, b, KEY_LEN);
    expect(reveal(same), true, "equal keys");
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
        memcpy(b, a, sizeof b); /* copies the taint with the bytes */
        b[where[w]] ^= 0x01;
        same = control ? leaky_equal(a, b, KEY_LEN) : perc_secret_equal(a, b, KEY_LEN);
        expect(reveal(same), false, "keys one bit apart");
    }
}

/* perc_ekt_params_same compares the EKTKey and the salt (both secret);
 * the cipher, SPI and lengths are public. */
static void check_ekt_params_same(void)
{
    uint8_t key[16], salt[14];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)(0x30 + i);
    perc_ekt_params a, b;
    if (perc_ekt_params_set(&a, PERC_EKT_CIPHER_AESKW_128, key, sizeof key, salt, sizeof salt,
                            0x1234, 3600, 0) != PERC_OK) {
        fprintf(stderr, "secret_compare_ct: perc_ekt_params_set refused the test key\n");
        failures++;
        return;
    }
    b = a;
    taint(a.key, a.key_len);
    taint(a.salt, a.salt_len);
    taint(b.key, b.key_len);
    taint(b.salt, b.salt_len);
    expect(reveal(perc_ekt_params_same(&a, &b)), true, "same EKT parameters");
    b.key[a.key_len - 1] ^= 0x80;
    expect(reveal(perc_ekt_params_same(&a, &b)), false, "EKTKeys differing in the last bit");
    b.key[a.key_len - 1] ^= 0x80;
    b.salt[0] ^= 0x01;
    expect(reveal(perc_ekt_params_same(&a, &b)), false, "salts differing in the first bit");
    perc_ekt_params_wipe(&a);
    perc_ekt_params_wipe(&b);
}

int main(int argc, char **argv)
{
    bool control = argc > 1 && strcmp(argv[1], "--control") == 0;
    if (!RUNNING_ON_VALGRIND) {
        fprintf(stderr, "secret_compare_ct: run me under valgrind (memcheck); alone I check "
                        "nothing\n");
        return 2;
    }
    check_secret_equal(control);
    if (!control)
        check_ekt_params_same();
    return failures ? 1 : 0;
}
