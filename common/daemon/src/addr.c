/* host:port parsing and socket address helpers (see perc_daemon/addr.h). */
#include "perc_daemon/addr.h"

#include <string.h>

#include "perc_daemon/error.h"

static gboolean fail(GError **error, const char *text, const char *why)
{
    g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                "'%s' is not HOST:PORT (%s; e.g. 127.0.0.1:4433 or [::1]:4433)", text, why);
    return FALSE;
}

/* RFC 1123 host names: letters, digits and hyphens in labels of 1..63
 * octets, no label starting or ending with a hyphen. */
static gboolean is_dns_name(const char *s, size_t len)
{
    if (len == 0 || len > PERC_HOST_MAX)
        return FALSE;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return FALSE;
            label = 0;
            continue;
        }
        if (!g_ascii_isalnum(c) && c != '-')
            return FALSE;
        if (c == '-' && label == 0)
            return FALSE;
        if (++label > 63)
            return FALSE;
    }
    /* A trailing dot (absolute name) is fine; a trailing hyphen is not. */
    return s[len - 1] != '-';
}

static gboolean parse_port(const char *p, uint16_t *out)
{
    if (!*p || strlen(p) > 5)
        return FALSE;
    unsigned long v = 0;
    for (; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return FALSE;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return FALSE;
    *out = (uint16_t)v;
    return TRUE;
}

gboolean perc_hostport_parse(const char *text, perc_hostport *out, GError **error)
{
    g_return_val_if_fail(out != NULL, FALSE);
    if (!text || !*text)
        return fail(error, "", "empty");
    perc_hostport hp;
    memset(&hp, 0, sizeof hp);
    const char *host = text, *host_end, *port;
    if (text[0] == '[') {
        host = text + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return fail(error, text, "no closing ']'");
        if (host_end[1] != ':')
            return fail(error, text, "no ':PORT' after ']'");
        port = host_end + 2;
    } else {
        host_end = strrchr(text, ':');
        if (!host_end)
            return fail(error, text, "no ':PORT'");
        if (memchr(text, ':', (size_t)(host_end - text)))
            return fail(error, text, "an IPv6 address needs brackets");
        port = host_end + 1;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0)
        return fail(error, text, "empty host");
    if (host_len > PERC_HOST_MAX)
        return fail(error, text, "host too long");
    if (!parse_port(port, &hp.port))
        return fail(error, text, "the port is not a number in 0..65535");
    memcpy(hp.host, host, host_len);
    hp.host[host_len] = '\0';

    GInetAddress *ia = g_inet_address_new_from_string(hp.host);
    if (ia) {
        GSocketFamily fam = g_inet_address_get_family(ia);
        g_object_unref(ia);
        if (fam == G_SOCKET_FAMILY_IPV6) {
            if (text[0] != '[')
                return fail(error, text, "an IPv6 address needs brackets");
            hp.kind = PERC_HOST_IPV6;
        } else {
            if (text[0] == '[')
                return fail(error, text, "only IPv6 addresses go in brackets");
            hp.kind = PERC_HOST_IPV4;
        }
    } else {
        if (text[0] == '[')
            return fail(error, text, "not an IPv6 address inside the brackets");
        /* An all-digit-and-dot string that is not a valid IPv4 literal
         * ("1.2.3.256") is a typo, not a host name. */
        if (strspn(hp.host, "0123456789.") == host_len)
            return fail(error, text, "not a valid IPv4 address");
        if (!is_dns_name(hp.host, host_len))
            return fail(error, text, "not an IP address or a DNS name");
        hp.kind = PERC_HOST_NAME;
    }
    *out = hp;
    return TRUE;
}

char *perc_hostport_to_string(const perc_hostport *hp)
{
    g_return_val_if_fail(hp != NULL, NULL);
    if (hp->kind == PERC_HOST_IPV6)
        return g_strdup_printf("[%s]:%u", hp->host, (unsigned)hp->port);
    return g_strdup_printf("%s:%u", hp->host, (unsigned)hp->port);
}

GSocketAddress *perc_hostport_resolve(const perc_hostport *hp, GError **error)
{
    g_return_val_if_fail(hp != NULL, NULL);
    if (hp->kind != PERC_HOST_NAME) {
        GInetAddress *ia = g_inet_address_new_from_string(hp->host);
        if (!ia) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                        "'%s' is not an IP address", hp->host);
            return NULL;
        }
        GSocketAddress *sa = g_inet_socket_address_new(ia, hp->port);
        g_object_unref(ia);
        return sa;
    }
    GResolver *r = g_resolver_get_default();
    GList *list = g_resolver_lookup_by_name(r, hp->host, NULL, error);
    g_object_unref(r);
    if (!list) {
        if (error && *error)
            g_prefix_error(error, "resolve %s: ", hp->host);
        return NULL;
    }
    GSocketAddress *sa = g_inet_socket_address_new(G_INET_ADDRESS(list->data), hp->port);
    g_resolver_free_addresses(list);
    return sa;
}

char *perc_sockaddr_format(GSocketAddress *addr, char *out, size_t cap)
{
    if (!out || cap == 0)
        return out;
    if (!addr || !G_IS_INET_SOCKET_ADDRESS(addr)) {
        g_strlcpy(out, "?", cap);
        return out;
    }
    GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(addr);
    char *ip = g_inet_address_to_string(g_inet_socket_address_get_address(isa));
    unsigned port = g_inet_socket_address_get_port(isa);
    if (g_socket_address_get_family(addr) == G_SOCKET_FAMILY_IPV6)
        g_snprintf(out, (gulong)cap, "[%s]:%u", ip, port);
    else
        g_snprintf(out, (gulong)cap, "%s:%u", ip, port);
    g_free(ip);
    return out;
}

uint16_t perc_sockaddr_port(GSocketAddress *addr)
{
    if (!addr || !G_IS_INET_SOCKET_ADDRESS(addr))
        return 0;
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(addr));
}
