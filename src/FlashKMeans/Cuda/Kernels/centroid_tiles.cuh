// The packed centroid tiles that the warp-specialised assignment (flash_assign_ws.cu) streams: per problem
// ceil(k / 128) tiles of tile_bytes(kch) bytes, each kch K-major chunks of 128 centroid rows x 128 bytes in the
// 128-byte swizzle (16-byte chunk c of row r at c ^ (r & 7)), then the 128 centroids' norms (+inf past k).
// pack_centroid_tiles writes whole tiles from the stored centroids; the centroid finalize (centroid_update.cu)
// rewrites the rows and norms of the centroids it moves, so that a Lloyd step needs no pack of its own.
#pragma once
#include <stdint.h>

__device__ __forceinline__ uint32_t swizzle(int row, int chunk)
{
    return (uint32_t)(row * 128 + ((chunk ^ (row & 7)) << 4));
}

namespace centroid_tiles {

constexpr int BN = 128;                // centroids per tile
constexpr int CHUNK_BYTES = BN * 128;  // one 128-byte k-chunk of a tile
constexpr int NORM_BYTES = BN * 4;     // the tile's centroid norms

// Bytes of one packed tile in global memory.
__host__ __device__ constexpr int tile_bytes(int kch) { return kch * CHUNK_BYTES + NORM_BYTES; }

// Byte `byte` (< kch * 128) of row r (< BN) of a tile, from the tile's start; its norm's place is norm_at.
__device__ __forceinline__ uint32_t row_byte(int r, int byte)
{
    return (uint32_t)(byte >> 7) * CHUNK_BYTES + swizzle(r, (byte >> 4) & 7) + (byte & 15);
}
__device__ __forceinline__ uint32_t norm_at(int r, int kch) { return (uint32_t)(kch * CHUNK_BYTES + 4 * r); }

// Row r of one tile: where its bytes and its norm go.
struct TileRow {
    char* tile;
    int r;
    __device__ __forceinline__ char* byte(int b) const { return tile + row_byte(r, b); }
    __device__ __forceinline__ float* norm(int kch) const { return reinterpret_cast<float*>(tile + norm_at(r, kch)); }
};

// A batch's tiles: centroid c (global: problem c / k, row c % k) is row (c % k) % BN of tile (c % k) / BN of its
// problem's tiles.
struct Target {
    char* tiles;  // null: none
    int k;        // centroids per problem
    int kch;      // 128-byte chunks per row

    __device__ __forceinline__ TileRow row_of(int c) const
    {
        const int b = c / k, r = c - b * k;
        return {tiles + ((size_t)b * ((k + BN - 1) / BN) + r / BN) * tile_bytes(kch), r % BN};
    }
};

}  // namespace centroid_tiles
