// Shared-memory layout of the Hopper (sm_90a) assignment kernels, flash_assign_wgmma.cu and
// flash_assign_ws.cu: K-major tiles of 128-byte rows with the 128-byte swizzle (16-byte chunk c of
// row r at c ^ (r & 7)), the wgmma matrix descriptor that reads them, and the fragment load.
#pragma once
#include <stdint.h>
#include "centroid_tiles.cuh"  // swizzle

// sm_90 matrix descriptor: start address, leading offset (unused for swizzled K-major), stride
// offset 1024 bytes between 8-row groups, 128-byte swizzle.
__device__ __forceinline__ uint64_t descriptor(uint32_t smem_address)
{
    uint64_t desc = (uint64_t)((smem_address & 0x3FFFF) >> 4);
    desc |= (uint64_t)1 << 16;
    desc |= (uint64_t)(1024 >> 4) << 32;
    desc |= (uint64_t)1 << 62;
    return desc;
}

// Four 8 x 8 b16 matrices: the mma.sync A fragment of 16 rows x 32 bytes, which is also the register
// A operand of wgmma (warp w of a warpgroup supplying rows 16w..16w+15).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
