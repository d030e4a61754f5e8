/* tornuv: common definitions — version, error codes, allocator, logging.
 *
 * Every other tornuv header includes this one. Nothing here mentions libuv.
 */
#ifndef TORNUV_COMMON_H
#define TORNUV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TN_VERSION_MAJOR 0
#define TN_VERSION_MINOR 1
#define TN_VERSION_PATCH 0
#define TN_VERSION_STRING "0.1.0"

#if defined(_WIN32) && !defined(TN_STATIC)
#ifdef TN_BUILDING
#define TN_EXTERN __declspec(dllexport)
#else
#define TN_EXTERN __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define TN_EXTERN __attribute__((visibility("default")))
#else
#define TN_EXTERN
#endif

/* A socket as the platform names it: SOCKET (an unsigned pointer-sized
 * integer) on Windows, a file descriptor elsewhere. */
#ifdef _WIN32
typedef uintptr_t tn_socket_t;
#define TN_INVALID_SOCKET ((tn_socket_t) ~(uintptr_t)0)
#else
typedef int tn_socket_t;
#define TN_INVALID_SOCKET (-1)
#endif

/* Error codes.
 *
 * Every fallible tornuv function returns 0 on success or a negative code.
 * Codes that come from the operating system or from libuv are passed through
 * unchanged (on Unix they are -errno; on Windows libuv's own UV_E* values).
 * Codes that tornuv itself defines live in their own range, from
 * TN__ERR_BASE - 1000 up to (not including) TN__ERR_BASE, so they never
 * collide with either.
 *
 * XX(name, message) */
#define TN_ERRNO_MAP(XX)                                                                           \
    XX(ECLOSED, "stream is closed")                                                                \
    XX(EUNSATISFIABLE, "read cannot be satisfied within max_bytes")                                \
    XX(EBUFFULL, "buffer is full")                                                                 \
    XX(EALREADY, "operation already in progress")                                                  \
    XX(EBUSY, "resource busy: objects are still alive")                                            \
    XX(EHTTP, "malformed HTTP message")                                                            \
    XX(ETIMEOUT, "operation timed out")                                                            \
    XX(EINVAL, "invalid argument")                                                                 \
    XX(ENOMEM, "out of memory")                                                                    \
    XX(ENOTSUP, "not supported on this platform")                                                  \
    XX(EEXIST, "already registered")                                                               \
    XX(ENOTFOUND, "not found")                                                                     \
    XX(ESTOPPED, "loop stopped before the operation completed")                                    \
    XX(ECANCELED, "operation canceled")                                                            \
    XX(EDETACHED, "loop is detached or closing")                                                   \
    XX(ETOOLARGE, "message too large")                                                             \
    XX(EOF, "end of stream")                                                                       \
    XX(ECALLBACK, "application callback failed")                                                   \
    XX(EFINISHED, "response already finished")                                                     \
    XX(EPENDING, "operation not complete")                                                         \
    XX(EEMPTY, "queue is empty")                                                                   \
    XX(ETLS, "TLS protocol error (handshake failed or bad record)")                                \
    XX(ETLSVERIFY, "TLS peer certificate verification failed")                                     \
    XX(ETLSTRUNC, "TLS connection ended without close_notify (data may be truncated)")             \
    XX(ETLSCONFIG, "TLS configuration error (certificate, key, CA or cipher settings)")

#define TN__ERR_BASE (-30000)

/* What a chunk callback returns (every place data streams: IOStream
 * streaming reads, request bodies, response bodies): go on, or stop reading
 * until the matching *_resume call. A negative code aborts instead. */
#define TN_CONTINUE 0
#define TN_PAUSE 1

typedef enum {
    TN__ERR_FIRST = TN__ERR_BASE - 1000,
#define TN__ERR_ENUM(name, msg) TN_##name,
    TN_ERRNO_MAP(TN__ERR_ENUM)
#undef TN__ERR_ENUM
        TN__ERR_LAST
} tn_errno_t;

/** Returns a static, human-readable message for any tornuv or system error
 * code (never NULL; unknown codes give "unknown error").
 * Tornado: the exception message (str(StreamClosedError()), ...). */
TN_EXTERN const char *tn_strerror(int err);

/** Returns the static symbolic name of an error code ("TN_ECLOSED",
 * "ECONNRESET", ...; never NULL).
 * Tornado: the exception class name. */
TN_EXTERN const char *tn_err_name(int err);

/** Returns TN_VERSION_STRING of the library actually linked.
 * Tornado: tornado.version. */
TN_EXTERN const char *tn_version_string(void);

/* Allocator.
 *
 * Every allocation tornuv makes goes through these four functions, so a
 * program can account for memory or a test can fail the Nth allocation.
 * libuv's own allocations are separate (uv_replace_allocator). */
typedef void *(*tn_malloc_func)(size_t size);
typedef void *(*tn_realloc_func)(void *ptr, size_t size);
typedef void *(*tn_calloc_func)(size_t count, size_t size);
typedef void (*tn_free_func)(void *ptr);

/** Replaces the allocator. Call it before creating any tornuv object (memory
 * allocated by one allocator must be freed by the same one). All four must be
 * non-NULL. Returns 0 or TN_EINVAL.
 * Tornado: none (Python manages memory); mirrors uv_replace_allocator. */
TN_EXTERN int tn_replace_allocator(tn_malloc_func malloc_func, tn_realloc_func realloc_func,
                                   tn_calloc_func calloc_func, tn_free_func free_func);

/** Allocates size bytes through the current allocator; NULL on failure and
 * for size 0. The caller owns the memory and releases it with tn_free.
 * Tornado: none (Python manages memory). */
TN_EXTERN void *tn_malloc(size_t size);

/** Resizes through the current allocator; size 0 frees ptr and returns
 * NULL (one meaning for C11's implementation-defined case).
 * Tornado: none. */
TN_EXTERN void *tn_realloc(void *ptr, size_t size);

/** Allocates zeroed count*size bytes; NULL on failure or a zero size.
 * Tornado: none. */
TN_EXTERN void *tn_calloc(size_t count, size_t size);

/** Frees memory from tn_malloc/tn_realloc/tn_calloc/tn_strndup; NULL is a
 * no-op.
 * Tornado: none. */
TN_EXTERN void tn_free(void *ptr);

/** Copies len bytes into a new NUL-terminated allocation (NULL on failure);
 * free it with tn_free.
 * Tornado: none. */
TN_EXTERN char *tn_strndup(const char *s, size_t len);

/* Logging.
 *
 * tornuv logs where Tornado logs: "Exception in callback" style reports,
 * accept errors, malformed HTTP messages, access lines. The default handler
 * writes "[LEVEL tornuv] message" lines to stderr for levels >= the threshold
 * (TN_LOG_WARN by default, or the TORNUV_LOG_LEVEL environment variable:
 * debug, info, warn, error, none). */
typedef enum {
    TN_LOG_DEBUG = 10,
    TN_LOG_INFO = 20,
    TN_LOG_WARN = 30,
    TN_LOG_ERROR = 40,
    TN_LOG_NONE = 100
} tn_log_level_t;

/** A log sink: level, a NUL-terminated message without trailing newline
 * (borrowed for the call), and the arg given to tn_log_set_handler. May be
 * called from the loop thread or the thread-pool. */
typedef void (*tn_log_cb)(int level, const char *message, void *arg);

/** Installs a log handler (NULL restores the default stderr handler).
 * Tornado: logging.getLogger("tornado.*") handlers. */
TN_EXTERN void tn_log_set_handler(tn_log_cb cb, void *arg);

/** Sets the minimum level delivered to the handler.
 * Tornado: logger.setLevel. */
TN_EXTERN void tn_log_set_level(int level);

/** Logs a printf-style message at the given level through the handler.
 * Messages longer than 1 KiB are truncated.
 * Tornado: gen_log / app_log / access_log calls. */
TN_EXTERN void tn_log(int level, const char *fmt, ...)
#if defined(__MINGW32__)
    /* The library formats with mingw's C99 vsnprintf (%zu, %lld). */
    __attribute__((format(gnu_printf, 2, 3)))
#elif defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_COMMON_H */
