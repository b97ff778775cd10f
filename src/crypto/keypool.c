/* Pre-generated Elligator2 keys (see crypto/keypool.h). */
#include "crypto/keypool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/elligator2.h"

struct key {
    uint8_t priv[32], pub[32], repr[32];
};

struct ptk_keypool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool threaded, stop;
    bool refilling; /* the thread was woken and fills the pool up */
    size_t size, n;
    struct key keys[];
};

static void *refill(void *arg)
{
    struct ptk_keypool *p = arg;
    struct key k;
    pthread_mutex_lock(&p->mu);
    p->refilling = true; /* fill it once at start */
    while (!p->stop) {
        if (p->n == p->size || !p->refilling) {
            p->refilling = false;
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        ptk_elligator2_keygen(k.priv, k.pub, k.repr);
        pthread_mutex_lock(&p->mu);
        if (p->n < p->size)
            p->keys[p->n++] = k;
    }
    pthread_mutex_unlock(&p->mu);
    ptk_memzero(&k, sizeof(k));
    return NULL;
}

struct ptk_keypool *ptk_keypool_new(size_t size, bool threaded)
{
    struct ptk_keypool *p = calloc(1, sizeof(*p) + size * sizeof(struct key));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->size = size;
    if (threaded && size > 0 && pthread_create(&p->thread, NULL, refill, p) == 0)
        p->threaded = true;
    return p;
}

void ptk_keypool_free(struct ptk_keypool *p)
{
    if (!p)
        return;
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    ptk_memzero(p->keys, p->size * sizeof(struct key));
    free(p);
}

void ptk_keypool_take(struct ptk_keypool *p, uint8_t priv[32], uint8_t pub[32],
                      uint8_t repr[32])
{
    bool got = false;
    pthread_mutex_lock(&p->mu);
    if (p->n > 0) {
        struct key *k = &p->keys[--p->n];
        memcpy(priv, k->priv, 32);
        memcpy(pub, k->pub, 32);
        memcpy(repr, k->repr, 32);
        ptk_memzero(k, sizeof(*k));
        got = true;
    }
    /* Wake the thread once half the pool is gone, not on every take: it
     * refills in one burst, and a handshake costs no thread wake-up. */
    if (p->threaded && !p->refilling && p->n <= p->size / 2) {
        p->refilling = true;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (!got)
        ptk_elligator2_keygen(priv, pub, repr);
}
