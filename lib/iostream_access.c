/* The IOStream's plain accessors: state queries, the transport's address
 * and options, and the user data slot. */
#include "iostream_internal.h"

int tn_iostream_closed(const tn_iostream_t *s)
{
    return s->closed;
}

int tn_iostream_reading(const tn_iostream_t *s)
{
    return s->kind != R_NONE || s->streamer != NULL;
}

int tn_iostream_writing(const tn_iostream_t *s)
{
    return s->wq != NULL;
}

int tn_iostream_error(const tn_iostream_t *s)
{
    return s->error;
}

size_t tn_iostream_write_buffered(const tn_iostream_t *s)
{
    return s->unsent;
}

size_t tn_iostream_buffered(const tn_iostream_t *s)
{
    return s->len;
}

int tn_iostream_set_nodelay(tn_iostream_t *s, int on)
{
    if (s->closed)
        return TN_ECLOSED;
    return s->ops->set_nodelay ? s->ops->set_nodelay(s->transport, on) : TN_ENOTSUP;
}

int tn_iostream_remote_address(tn_iostream_t *s, char *ip, size_t iplen, int *port)
{
    if (s->transport_closed)
        return TN_ECLOSED;
    return s->ops->remote_address(s->transport, ip, iplen, port);
}

tn_ioloop_t *tn_iostream_loop(const tn_iostream_t *s)
{
    return s->loop;
}

void tn_iostream_set_data(tn_iostream_t *s, void *data)
{
    s->data = data;
}

void *tn_iostream_get_data(const tn_iostream_t *s)
{
    return s->data;
}

const tn_transport_ops_t *tn_iostream__ops(const tn_iostream_t *s, void **t)
{
    *t = s->transport;
    return s->ops;
}
