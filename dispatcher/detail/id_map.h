/*
 * A hash map from nonzero 64-bit ids to pointers: task ids to tasks and
 * pipe ids to daemons. Open addressing with linear probing and
 * backward-shift deletion keeps lookups O(1) on average without tombstones,
 * so the cost per task does not grow with the number of tasks or daemons.
 * Not thread-safe: the dispatcher's lock guards it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct dsp__id_slot {
    uint64_t key; /* 0 marks an empty slot */
    void *value;
} dsp__id_slot;

typedef struct dsp__id_map {
    dsp__id_slot *slots;
    size_t capacity; /* a power of two, or 0 before the first insert */
    size_t count;
} dsp__id_map;

void dsp__id_map_init(dsp__id_map *map);
void dsp__id_map_fini(dsp__id_map *map);

/* The value stored under key, or NULL. */
void *dsp__id_map_get(const dsp__id_map *map, uint64_t key);

/*
 * Store value under key (nonzero), replacing any previous value. Returns 0
 * or NNG_ENOMEM, in which case the map is unchanged.
 */
int dsp__id_map_put(dsp__id_map *map, uint64_t key, void *value);

/* Remove key and return its value, or NULL when it was absent. */
void *dsp__id_map_remove(dsp__id_map *map, uint64_t key);

/*
 * Visit every value in unspecified order. The callback must not change
 * the map.
 */
void dsp__id_map_each(const dsp__id_map *map, void (*fn)(void *, void *),
    void *arg);
