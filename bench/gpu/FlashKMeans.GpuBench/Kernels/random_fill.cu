// Standard normal values generated on the device, for the benchmark's gigabytes of input without a host round
// trip. Counter-based (SplitMix64 finaliser + Box-Muller), so a given (seed, index) always gives the same value,
// whatever the launch shape. Not part of the product: the benchmark loads it itself (DeviceRandom.cs).
// Rebuild the committed PTX with: nvcc -ccbin clang-14 -std=c++17 -O3 -ptx -arch=compute_70 -o random_fill.sm70.ptx random_fill.cu

__device__ __forceinline__ unsigned long long mix64(unsigned long long z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Arguments:
//   out   fp32 (count)  out: independent N(0, 1) values
//   count long long
//   seed  uint64
// Launch: grid-stride, any grid, any block.
extern "C" __global__ void fill_normal_f32(float* __restrict__ out, long long count, unsigned long long seed)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        const unsigned long long bits = mix64(seed + (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ull);
        // Two 24-bit uniforms; u1 in (0, 1] keeps the logarithm finite.
        const float u1 = ((float)(bits >> 40) + 1.0f) * (1.0f / 16777216.0f);
        const float u2 = (float)((bits >> 8) & 0xFFFFFFu) * (1.0f / 16777216.0f);
        out[i] = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    }
}
