/* tornuv locks: Event, Condition, Semaphore, BoundedSemaphore and Lock for
 * callbacks on one loop (Tornado's tornado.locks, without coroutines).
 *
 * Every wait takes a relative timeout in milliseconds (0 = wait forever;
 * "don't wait" is the try_/is_ call) and a callback that runs exactly once,
 * never inside the call that started the wait, with status 0 (granted),
 * TN_ETIMEOUT, TN_ECANCELED (tn_*_cancel) or TN_ECLOSED (the object was
 * freed). Waits return a tn_wait_id (0 = could not wait: NULL callback or
 * out of memory).
 *
 * Grants happen in the call that causes them (release, notify, set) and are
 * delivered on a later drain, oldest waiter first; try_acquire never barges
 * past waiters. A waiter cancelled after its grant but before the delivery
 * passes what it was granted on (the permit to the next waiter, the
 * notification to the next waiter), so nothing is ever lost; the timer of a
 * granted waiter is already gone, so a timeout never takes a grant back.
 *
 * Objects are freed by the user; waiters still waiting complete with
 * TN_ECLOSED and get the (then dead) object pointer, which they must not
 * use. Loop thread only (use tn_ioloop_add_callback from other threads). */
#ifndef TORNUV_LOCKS_H
#define TORNUV_LOCKS_H

#include "common.h"
#include "ioloop.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Identifies a pending wait; 0 is never valid. */
typedef uint64_t tn_wait_id;

/* ---- Event ---------------------------------------------------------------- */

typedef struct tn_event_s tn_event_t;
/** A wait on an event ended: 0 (the event was set), TN_ETIMEOUT,
 * TN_ECANCELED or TN_ECLOSED. */
typedef void (*tn_event_cb)(tn_event_t *ev, int status, void *arg);

/** Creates an event, initially clear. Returns 0, TN_EINVAL or TN_ENOMEM.
 * Tornado: tornado.locks.Event(). */
TN_EXTERN int tn_event_new(tn_ioloop_t *loop, tn_event_t **out);

/** Frees the event; its waiters complete with TN_ECLOSED (later). NULL is a
 * no-op. Tornado: none (garbage collection). */
TN_EXTERN void tn_event_free(tn_event_t *ev);

/** Sets the event and wakes every waiter; later waits complete at once (on
 * the next drain). Tornado: Event.set(). */
TN_EXTERN void tn_event_set(tn_event_t *ev);

/** Clears the event; waits block again. Waiters already woken stay woken.
 * Tornado: Event.clear(). */
TN_EXTERN void tn_event_clear(tn_event_t *ev);

/** Nonzero while the event is set. Tornado: Event.is_set(). */
TN_EXTERN int tn_event_is_set(const tn_event_t *ev);

/** Waits until the event is set (at once if it is), at most timeout_ms
 * (0 = forever). cb runs exactly once, later. Returns the wait's id or 0.
 * Tornado: Event.wait(timeout). */
TN_EXTERN tn_wait_id tn_event_wait(tn_event_t *ev, uint64_t timeout_ms, tn_event_cb cb, void *arg);

/** Cancels a wait: its cb gets TN_ECANCELED (later) unless it was already
 * woken. Returns 0, TN_ENOTFOUND (unknown id, or already delivered) or
 * TN_EALREADY (already woken or timed out; that result stands).
 * Tornado: cancelling the Future that Event.wait returned. */
TN_EXTERN int tn_event_cancel(tn_event_t *ev, tn_wait_id id);

/* ---- Condition ------------------------------------------------------------ */

typedef struct tn_condition_s tn_condition_t;
/** A wait on a condition ended: 0 (notified), TN_ETIMEOUT (Tornado's
 * False), TN_ECANCELED or TN_ECLOSED. */
typedef void (*tn_condition_cb)(tn_condition_t *c, int status, void *arg);

/** Creates a condition. Returns 0, TN_EINVAL or TN_ENOMEM.
 * Tornado: tornado.locks.Condition(). */
TN_EXTERN int tn_condition_new(tn_ioloop_t *loop, tn_condition_t **out);

/** Frees the condition; waiters complete with TN_ECLOSED. NULL is a no-op.
 * Tornado: none. */
TN_EXTERN void tn_condition_free(tn_condition_t *c);

/** Waits for a notification, at most timeout_ms (0 = forever). Returns the
 * wait's id or 0. Tornado: Condition.wait(timeout). */
TN_EXTERN tn_wait_id tn_condition_wait(tn_condition_t *c, uint64_t timeout_ms, tn_condition_cb cb,
                                       void *arg);

/** Wakes up to n waiters, oldest first (timed-out and cancelled ones are
 * gone already). Returns how many were woken.
 * Tornado: Condition.notify(n). */
TN_EXTERN size_t tn_condition_notify(tn_condition_t *c, size_t n);

/** Wakes every waiter. Returns how many. Tornado: Condition.notify_all(). */
TN_EXTERN size_t tn_condition_notify_all(tn_condition_t *c);

/** Cancels a wait (TN_ECANCELED). A waiter notified but not yet called
 * back hands its notification to the next waiter, if any. Returns 0,
 * TN_ENOTFOUND or TN_EALREADY (timed out already).
 * Tornado: cancelling the Future that Condition.wait returned. */
TN_EXTERN int tn_condition_cancel(tn_condition_t *c, tn_wait_id id);

/* ---- Semaphore, BoundedSemaphore, Lock ------------------------------------ */

typedef struct tn_semaphore_s tn_semaphore_t;
/** An acquire ended: 0 (the permit is yours: release it once),
 * TN_ETIMEOUT, TN_ECANCELED or TN_ECLOSED (no permit). */
typedef void (*tn_semaphore_cb)(tn_semaphore_t *s, int status, void *arg);

/** Creates a semaphore with value permits; bounded nonzero makes releasing
 * past value an error (BoundedSemaphore). Returns 0, TN_EINVAL or
 * TN_ENOMEM. Tornado: Semaphore(value) / BoundedSemaphore(value). */
TN_EXTERN int tn_semaphore_new(tn_ioloop_t *loop, unsigned value, int bounded,
                               tn_semaphore_t **out);

/** Frees the semaphore; waiters complete with TN_ECLOSED. NULL is a no-op.
 * Tornado: none. */
TN_EXTERN void tn_semaphore_free(tn_semaphore_t *s);

/** Acquires a permit: at once (delivered on the next drain) when one is
 * free and nobody waits, else queued FIFO for at most timeout_ms
 * (0 = forever). Returns the wait's id or 0.
 * Tornado: Semaphore.acquire(timeout). */
TN_EXTERN tn_wait_id tn_semaphore_acquire(tn_semaphore_t *s, uint64_t timeout_ms,
                                          tn_semaphore_cb cb, void *arg);

/** Takes a permit without waiting: 0, or TN_EBUSY when none is free (or
 * waiters are queued: they come first).
 * Tornado: none (Semaphore._value check; asyncio's locked()). */
TN_EXTERN int tn_semaphore_try_acquire(tn_semaphore_t *s);

/** Returns a permit: handed straight to the oldest waiter, else counted.
 * Returns 0, or TN_EINVAL for a bounded semaphore already at its initial
 * value (Tornado's "Semaphore released too many times").
 * Tornado: Semaphore.release(). */
TN_EXTERN int tn_semaphore_release(tn_semaphore_t *s);

/** Free permits now. Tornado: Semaphore._value. */
TN_EXTERN unsigned tn_semaphore_value(const tn_semaphore_t *s);

/** Cancels an acquire (TN_ECANCELED). Granted but not yet delivered: the
 * permit passes to the next waiter or back to the count. Returns 0,
 * TN_ENOTFOUND or TN_EALREADY.
 * Tornado: cancelling the Future that acquire returned. */
TN_EXTERN int tn_semaphore_cancel(tn_semaphore_t *s, tn_wait_id id);

/** A lock is a bounded semaphore of one permit. */
typedef tn_semaphore_t tn_lock_t;

/** Creates an unlocked lock. Returns 0, TN_EINVAL or TN_ENOMEM.
 * Tornado: tornado.locks.Lock(). */
TN_EXTERN int tn_lock_new(tn_ioloop_t *loop, tn_lock_t **out);

/** Frees the lock; waiters complete with TN_ECLOSED. Tornado: none. */
TN_EXTERN void tn_lock_free(tn_lock_t *l);

/** Acquires the lock (FIFO), at most timeout_ms (0 = forever); cb status 0
 * means it is held. Returns the wait's id or 0.
 * Tornado: Lock.acquire(timeout). */
TN_EXTERN tn_wait_id tn_lock_acquire(tn_lock_t *l, uint64_t timeout_ms, tn_semaphore_cb cb,
                                     void *arg);

/** Releases the lock (to the oldest waiter, if any). Returns 0, or
 * TN_EINVAL when it is not locked ("release unlocked lock").
 * Tornado: Lock.release(). */
TN_EXTERN int tn_lock_release(tn_lock_t *l);

/** Nonzero while held (or granted to a waiter). Tornado: none (asyncio
 * Lock.locked()). */
TN_EXTERN int tn_lock_locked(const tn_lock_t *l);

/** Cancels an acquire, as tn_semaphore_cancel.
 * Tornado: cancelling the Future that Lock.acquire returned. */
TN_EXTERN int tn_lock_cancel(tn_lock_t *l, tn_wait_id id);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_LOCKS_H */
