/*
 * Reference C implementation of kvflow's cache-only LRU replay (DESIGN.md section 4), for `npm run bench`
 * only: the bench compiles it (cc -O2), feeds it the same trace and compares results and speed with the
 * TypeScript kernel (src/cache/radix-cache.ts). Not part of the package and never built at install.
 *
 * One node per page, found through a hash table of (parent, block) edges chained through the nodes;
 * eviction candidates (unlocked leaves on the GPU) in an indexed binary min-heap keyed by (last access,
 * page id). Request r: match the longest cached prefix, lock it and give it tick r; insert the missing
 * blocks in order with tick r, locked, evicting one candidate at a time while no slot is free and
 * stopping when none is left; then unlock the path.
 *
 * Input (little-endian): u32 requests, u32 block size, then per request u32 input_length, u32 blocks and
 * that many f64 block ids. Usage: lru-replay TRACE.bin CAPACITY_TOKENS RUNS
 * Output: one JSON line {"hitTokens", "evictions", "pages", "cpuSeconds": [per run]}.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  uint32_t input_length, count;
  const double *blocks;
} request_t;

static int32_t *parent_, *gpu_children, *locks, *chain, *buckets, *heap, *position, *free_list;
static double *block_, *last_access;
static int32_t heap_size, free_count, next_id, mask;

static uint32_t edge_hash(int32_t parent, double block) {
  uint32_t lo = (uint32_t)(uint64_t)block, hi = (uint32_t)((uint64_t)block >> 32);
  uint32_t h = ((uint32_t)parent ^ 0x27d4eb2fu) * 0x9e3779b1u ^ lo * 0x85ebca77u ^ hi * 0xc2b2ae3du;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return h;
}

static int32_t child_of(int32_t parent, double block) {
  for (int32_t page = buckets[edge_hash(parent, block) & mask]; page != 0; page = chain[page])
    if (parent_[page] == parent && block_[page] == block) return page;
  return -1;
}

static int before(int32_t a, int32_t b) {
  return last_access[a] < last_access[b] || (last_access[a] == last_access[b] && a < b);
}

static void sift_up(int32_t at) {
  int32_t id = heap[at];
  while (at > 0) {
    int32_t up = (at - 1) >> 1;
    if (!before(id, heap[up])) break;
    heap[at] = heap[up];
    position[heap[at]] = at;
    at = up;
  }
  heap[at] = id;
  position[id] = at;
}

static void sift_down(int32_t at) {
  int32_t id = heap[at];
  for (;;) {
    int32_t child = 2 * at + 1;
    if (child >= heap_size) break;
    if (child + 1 < heap_size && before(heap[child + 1], heap[child])) child++;
    if (!before(heap[child], id)) break;
    heap[at] = heap[child];
    position[heap[at]] = at;
    at = child;
  }
  heap[at] = id;
  position[id] = at;
}

static void heap_push(int32_t id) {
  heap[heap_size] = id;
  sift_up(heap_size++);
}

static void heap_remove(int32_t id) {
  int32_t at = position[id];
  if (at < 0) return;
  position[id] = -1;
  if (at == --heap_size) return;
  int32_t moved = heap[heap_size];
  heap[at] = moved;
  position[moved] = at;
  sift_up(at);
  sift_down(position[moved]);
}

static void unlink_page(int32_t page) {
  int32_t *link = &buckets[edge_hash(parent_[page], block_[page]) & mask];
  while (*link != page) link = &chain[*link];
  *link = chain[page];
}

/* Evicts the least recently used candidate; returns 0 when there is none. */
static int evict(void) {
  if (heap_size == 0) return 0;
  int32_t victim = heap[0];
  heap_remove(victim);
  int32_t parent = parent_[victim];
  unlink_page(victim);
  free_list[free_count++] = victim;
  if (--gpu_children[parent] == 0 && parent != 0 && locks[parent] == 0) heap_push(parent);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: lru-replay TRACE.bin CAPACITY_TOKENS RUNS\n");
    return 2;
  }
  FILE *file = fopen(argv[1], "rb");
  if (!file) {
    perror(argv[1]);
    return 2;
  }
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  unsigned char *data = malloc((size_t)size);
  if (fread(data, 1, (size_t)size, file) != (size_t)size) return 2;
  fclose(file);

  uint32_t count, block_size;
  memcpy(&count, data, 4);
  memcpy(&block_size, data + 4, 4);
  request_t *requests = malloc(sizeof(request_t) * count);
  size_t offset = 8, pages = 0, longest = 0;
  for (uint32_t r = 0; r < count; r++) {
    memcpy(&requests[r].input_length, data + offset, 4);
    memcpy(&requests[r].count, data + offset + 4, 4);
    requests[r].blocks = (const double *)(data + offset + 8); /* 8-byte aligned: offsets stay multiples of 8 */
    offset += 8 + 8 * (size_t)requests[r].count;
    pages += requests[r].count;
    if (requests[r].count > longest) longest = requests[r].count;
  }
  int64_t slots = (int64_t)(atof(argv[2]) / block_size);
  int runs = atoi(argv[3]);
  int32_t capacity = 1024;
  while (capacity < slots + 2) capacity *= 2;
  mask = capacity - 1;
  parent_ = malloc(4 * (size_t)capacity);
  gpu_children = malloc(4 * (size_t)capacity);
  locks = malloc(4 * (size_t)capacity);
  chain = malloc(4 * (size_t)capacity);
  buckets = malloc(4 * (size_t)capacity);
  heap = malloc(4 * (size_t)capacity);
  position = malloc(4 * (size_t)capacity);
  free_list = malloc(4 * (size_t)capacity);
  block_ = malloc(8 * (size_t)capacity);
  last_access = malloc(8 * (size_t)capacity);
  int32_t *path = malloc(4 * (longest + 1));

  uint64_t hit_tokens = 0, evictions = 0;
  printf("{\"cpuSeconds\": [");
  for (int run = 0; run < runs; run++) {
    struct timespec start, end;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
    memset(buckets, 0, 4 * (size_t)capacity);
    memset(position, 0xff, 4 * (size_t)capacity);
    gpu_children[0] = 0;
    locks[0] = 0;
    heap_size = 0;
    free_count = 0;
    next_id = 1;
    int64_t used = 0;
    hit_tokens = 0;
    evictions = 0;
    for (uint32_t r = 0; r < count; r++) {
      const request_t *request = &requests[r];
      int32_t page = 0, matched = 0;
      while ((uint32_t)matched < request->count) {
        int32_t child = child_of(page, request->blocks[matched]);
        if (child < 0) break;
        if (locks[child]++ == 0) heap_remove(child);
        last_access[child] = r;
        path[matched++] = page = child;
      }
      int32_t held = matched;
      for (uint32_t i = (uint32_t)matched; i < request->count; i++) {
        if (used >= slots) {
          if (!evict()) break;
          used--;
          evictions++;
        }
        int32_t fresh = free_count > 0 ? free_list[--free_count] : next_id++;
        parent_[fresh] = page;
        block_[fresh] = request->blocks[i];
        gpu_children[fresh] = 0;
        locks[fresh] = 1;
        last_access[fresh] = r;
        position[fresh] = -1;
        uint32_t bucket = edge_hash(page, block_[fresh]) & mask;
        chain[fresh] = buckets[bucket];
        buckets[bucket] = fresh;
        gpu_children[page]++;
        used++;
        path[held++] = page = fresh;
      }
      for (int32_t i = 0; i < held; i++) {
        int32_t p = path[i];
        if (--locks[p] == 0 && gpu_children[p] == 0) heap_push(p);
      }
      hit_tokens += matched == 0 ? 0 : (uint32_t)matched >= request->count ? request->input_length : (uint64_t)matched * block_size;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &end);
    printf("%s%.9f", run > 0 ? ", " : "", (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
  }
  printf("], \"hitTokens\": %llu, \"evictions\": %llu, \"pages\": %zu}\n", (unsigned long long)hit_tokens,
         (unsigned long long)evictions, pages);
  return 0;
}
