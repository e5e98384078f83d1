/*
 * The id map: open addressing over a power-of-two table kept at most half
 * full, with Fibonacci hashing so that sequential task ids spread out.
 */
#include "dispatcher/detail/id_map.h"

#include <nng/nng.h>

#include <stdlib.h>

#define ID_MAP_MIN_CAPACITY 16

static size_t
slot_of(const dsp__id_map *map, uint64_t key)
{
    return (size_t) ((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) &
        (map->capacity - 1);
}

void
dsp__id_map_init(dsp__id_map *map)
{
    map->slots = NULL;
    map->capacity = 0;
    map->count = 0;
}

void
dsp__id_map_fini(dsp__id_map *map)
{
    free(map->slots);
    dsp__id_map_init(map);
}

/* The slot holding key, or the empty slot where it would go. */
static dsp__id_slot *
find_slot(const dsp__id_map *map, uint64_t key)
{
    size_t mask = map->capacity - 1;
    size_t i = slot_of(map, key);

    while (map->slots[i].key != 0 && map->slots[i].key != key) {
        i = (i + 1) & mask;
    }
    return &map->slots[i];
}

void *
dsp__id_map_get(const dsp__id_map *map, uint64_t key)
{
    if (map->capacity == 0 || key == 0) {
        return NULL;
    }
    dsp__id_slot *slot = find_slot(map, key);
    return slot->key == key ? slot->value : NULL;
}

static int
grow(dsp__id_map *map)
{
    size_t capacity =
        map->capacity == 0 ? ID_MAP_MIN_CAPACITY : map->capacity * 2;
    dsp__id_slot *slots = calloc(capacity, sizeof(*slots));
    if (slots == NULL) {
        return NNG_ENOMEM;
    }

    dsp__id_map old = *map;
    map->slots = slots;
    map->capacity = capacity;
    for (size_t i = 0; i < old.capacity; i++) {
        if (old.slots[i].key != 0) {
            *find_slot(map, old.slots[i].key) = old.slots[i];
        }
    }
    free(old.slots);
    return 0;
}

int
dsp__id_map_put(dsp__id_map *map, uint64_t key, void *value)
{
    if ((map->count + 1) * 2 > map->capacity) {
        int rv = grow(map);
        if (rv != 0) {
            return rv;
        }
    }

    dsp__id_slot *slot = find_slot(map, key);
    if (slot->key == 0) {
        slot->key = key;
        map->count++;
    }
    slot->value = value;
    return 0;
}

void *
dsp__id_map_remove(dsp__id_map *map, uint64_t key)
{
    if (map->capacity == 0 || key == 0) {
        return NULL;
    }
    dsp__id_slot *slot = find_slot(map, key);
    if (slot->key == 0) {
        return NULL;
    }
    void *value = slot->value;
    size_t mask = map->capacity - 1;
    size_t hole = (size_t) (slot - map->slots);

    /*
     * Shift later members of the probe run back into the hole, so that
     * every key stays reachable from its home slot without tombstones.
     */
    for (size_t i = (hole + 1) & mask; map->slots[i].key != 0;
         i = (i + 1) & mask) {
        size_t home = slot_of(map, map->slots[i].key);
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            map->slots[hole] = map->slots[i];
            hole = i;
        }
    }
    map->slots[hole].key = 0;
    map->slots[hole].value = NULL;
    map->count--;
    return value;
}

void
dsp__id_map_each(const dsp__id_map *map, void (*fn)(void *, void *),
    void *arg)
{
    for (size_t i = 0; i < map->capacity; i++) {
        if (map->slots[i].key != 0) {
            fn(arg, map->slots[i].value);
        }
    }
}
