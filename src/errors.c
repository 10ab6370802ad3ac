/*
 * The thread-local last error, error names, the version string, and the
 * diagnostics writer (no malloc, no stdio: it must work inside malloc and in
 * signal handlers).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* initial-exec: no allocation and no lazy TLS set-up on first access, which
 * a replacement malloc needs (PITFALLS row 2). */
static __thread uint32_t last_error __attribute__((tls_model("initial-exec")));

uint32_t wheap_get_last_error(void) { return last_error; }
void wheap_set_last_error(uint32_t code) { last_error = code; }
void wh_set_error(uint32_t code) { last_error = code; }

const char *wheap_version(void)
{
    return "wheap " PACKAGE_VERSION;
}

const char *wheap_error_string(uint32_t code)
{
    switch (code) {
    case WHEAP_ERROR_SUCCESS:             return "ERROR_SUCCESS";
    case WHEAP_ERROR_FILE_NOT_FOUND:      return "ERROR_FILE_NOT_FOUND";
    case WHEAP_ERROR_ACCESS_DENIED:       return "ERROR_ACCESS_DENIED";
    case WHEAP_ERROR_INVALID_HANDLE:      return "ERROR_INVALID_HANDLE";
    case WHEAP_ERROR_NOT_ENOUGH_MEMORY:   return "ERROR_NOT_ENOUGH_MEMORY";
    case WHEAP_ERROR_OUTOFMEMORY:         return "ERROR_OUTOFMEMORY";
    case WHEAP_ERROR_BAD_LENGTH:          return "ERROR_BAD_LENGTH";
    case WHEAP_ERROR_NOT_SUPPORTED:       return "ERROR_NOT_SUPPORTED";
    case WHEAP_ERROR_INVALID_PARAMETER:   return "ERROR_INVALID_PARAMETER";
    case WHEAP_ERROR_INSUFFICIENT_BUFFER: return "ERROR_INSUFFICIENT_BUFFER";
    case WHEAP_ERROR_NOT_LOCKED:          return "ERROR_NOT_LOCKED";
    case WHEAP_ERROR_ALREADY_EXISTS:      return "ERROR_ALREADY_EXISTS";
    case WHEAP_ERROR_NO_MORE_ITEMS:       return "ERROR_NO_MORE_ITEMS";
    case WHEAP_ERROR_INVALID_ADDRESS:     return "ERROR_INVALID_ADDRESS";
    case WHEAP_ERROR_NOACCESS:            return "ERROR_NOACCESS";
    case WHEAP_ERROR_INVALID_FLAGS:       return "ERROR_INVALID_FLAGS";
    case WHEAP_ERROR_MAPPED_ALIGNMENT:    return "ERROR_MAPPED_ALIGNMENT";
    case WHEAP_ERROR_PRIVILEGE_NOT_HELD:  return "ERROR_PRIVILEGE_NOT_HELD";
    case WHEAP_ERROR_NO_SYSTEM_RESOURCES: return "ERROR_NO_SYSTEM_RESOURCES";
    case WHEAP_ERROR_COMMITMENT_LIMIT:    return "ERROR_COMMITMENT_LIMIT";
    default:                              return "ERROR_UNKNOWN";
    }
}

uint32_t wh_error_from_errno(int err)
{
    switch (err) {
    case 0:       return WHEAP_ERROR_SUCCESS;
    case ENOMEM:  return WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    case EAGAIN:  return WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    case EEXIST:  return WHEAP_ERROR_INVALID_ADDRESS;
    case EFAULT:  return WHEAP_ERROR_NOACCESS;
    case EPERM:   return WHEAP_ERROR_PRIVILEGE_NOT_HELD;
    case EACCES:  return WHEAP_ERROR_ACCESS_DENIED;
    case ENOENT:  return WHEAP_ERROR_FILE_NOT_FOUND;
    case ENOTSUP: return WHEAP_ERROR_NOT_SUPPORTED;
    case ENOSYS:  return WHEAP_ERROR_NOT_SUPPORTED;
    default:      return WHEAP_ERROR_INVALID_PARAMETER;
    }
}

/* ------------------------------------------------------------------------
 * Diagnostics: a tiny formatter into a stack buffer.
 * ---------------------------------------------------------------------- */

typedef struct msgbuf {
    char   text[512];
    size_t len;
} msgbuf;

static void put_str(msgbuf *b, const char *s)
{
    if (!s) s = "(null)";
    while (*s && b->len < sizeof b->text - 2) b->text[b->len++] = *s++;
}

static void put_uint(msgbuf *b, uint64_t v, unsigned base, bool prefix)
{
    char digits[24];
    int n = 0;
    if (prefix) put_str(b, "0x");
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n > 0 && b->len < sizeof b->text - 2) b->text[b->len++] = digits[--n];
}

static void format(msgbuf *b, const char *fmt, va_list ap)
{
    put_str(b, "wheap: ");
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            if (b->len < sizeof b->text - 2) b->text[b->len++] = *f;
            continue;
        }
        f++;
        if (*f == 's') put_str(b, va_arg(ap, const char *));
        else if (*f == 'p') put_uint(b, (uintptr_t)va_arg(ap, void *), 16, true);
        else if (*f == 'u') put_uint(b, va_arg(ap, unsigned), 10, false);
        else if (*f == 'x') put_uint(b, va_arg(ap, unsigned), 16, true);
        else if (*f == 'z' && f[1] == 'u') { put_uint(b, va_arg(ap, size_t), 10, false); f++; }
        else if (*f == '%') put_str(b, "%");
        else if (*f == '\0') break;
    }
    if (b->len == 0 || b->text[b->len - 1] != '\n') b->text[b->len++] = '\n';
}

void wh_message(const char *fmt, ...)
{
    msgbuf b = { .len = 0 };
    va_list ap;
    va_start(ap, fmt);
    format(&b, fmt, ap);
    va_end(ap);
    wh_os_write_stderr(b.text, b.len);
}

void wh_fatal(const char *fmt, ...)
{
    msgbuf b = { .len = 0 };
    va_list ap;
    va_start(ap, fmt);
    format(&b, fmt, ap);
    va_end(ap);
    wh_os_write_stderr(b.text, b.len);
    abort();
}
