/*
 * An intrusive doubly linked list with a sentinel head. The dispatcher
 * keeps its task queue and its daemon lists this way so that every insert
 * and removal is O(1) and allocates nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct dsp__node {
    struct dsp__node *prev;
    struct dsp__node *next;
} dsp__node;

/* The structure of the given type that contains the node at ptr. */
#define DSP__CONTAINER(ptr, type, member)                                   \
    ((type *) (void *) ((char *) (ptr) - offsetof(type, member)))

/* Make a list head empty, or mark a node as linked into no list. */
static inline void
dsp__list_init(dsp__node *head)
{
    head->prev = head;
    head->next = head;
}

static inline bool
dsp__list_empty(const dsp__node *head)
{
    return head->next == head;
}

/* Whether a node that was initialised with dsp__list_init is linked. */
static inline bool
dsp__node_linked(const dsp__node *node)
{
    return node->next != node;
}

static inline void
dsp__list_push_back(dsp__node *head, dsp__node *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void
dsp__list_push_front(dsp__node *head, dsp__node *node)
{
    dsp__list_push_back(head->next, node);
}

/* Unlink a node; it becomes unlinked again, so a second call is harmless. */
static inline void
dsp__list_remove(dsp__node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    dsp__list_init(node);
}

/* Unlink and return the first node, or NULL when the list is empty. */
static inline dsp__node *
dsp__list_pop_front(dsp__node *head)
{
    if (dsp__list_empty(head)) {
        return NULL;
    }
    dsp__node *node = head->next;
    dsp__list_remove(node);
    return node;
}
