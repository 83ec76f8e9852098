using ILGPU;

namespace FlashKMeans.ILGPU;

/// <summary>
/// Distance and argmin fused for ILGPU's accelerators, tiled through shared memory so that the N × K matrix is never
/// formed and each row and centroid is read from global memory once per tile instead of once per pair: a group of
/// side × side threads takes 4·side rows, streams the centroids past them 4·side at a time in chunks of 16 features, and
/// each thread keeps a 4 × 4 block of products in registers. Side is 16 on GPUs (256 threads, 64 rows) and smaller where
/// an accelerator's groups are (ILGPU's CPU accelerator: 4). The key ‖c‖² − 2·x·c picks the label (the lower index on ties); the distance to
/// it is then taken again from the differences, exact to float32 wherever the rows lie. Float32 only: some OpenCL devices
/// have no float64.
/// </summary>
internal static class TiledAssignKernel
{
    /// <summary>Threads along each side of a group, at most.</summary>
    public const int MaxSide = 16;

    private const int Chunk = 16;
    private const int MaxRows = 4 * MaxSide;
    private const int MaxStride = MaxRows + 1;

    /// <summary>The side of a group on <paramref name="maxThreadsPerGroup"/>: 16, 8, 4, 2 or 1.</summary>
    public static int Side(int maxThreadsPerGroup)
    {
        int side = MaxSide;
        while (side > 1 && side * side > maxThreadsPerGroup)
            side /= 2;
        return side;
    }

    /// <summary>Each centroid's squared norm, summed in feature order.</summary>
    public static void Norms(Index1D centroid, ArrayView<float> centroids, int d, ArrayView<float> norms)
    {
        long at = (long)centroid.X * d;
        float sum = 0;
        for (int f = 0; f < d; f++)
        {
            float v = centroids[at + f];
            sum += v * v;
        }
        norms[centroid] = sum;
    }

    /// <summary>
    /// Each of the <paramref name="n"/> rows' nearest of <paramref name="k"/> centroids and its squared distance. Launch:
    /// ceil(n / (4·<paramref name="side"/>)) groups of side² threads (<see cref="Side"/>); <paramref name="norms"/> from
    /// <see cref="Norms"/>.
    /// </summary>
    public static void Assign(ArrayView<float> rows, ArrayView<float> centroids, ArrayView<float> norms, int n, int d, int k, int side,
        ArrayView<int> labels, ArrayView<float> distances)
    {
        // Feature-major tiles, xs[f * stride + row] and cs[f * stride + centroid]: one word of padding per feature keeps the
        // 16 threads that store a row's features on 16 different banks.
        var xs = SharedMemory.Allocate<float>(Chunk * MaxStride);
        var cs = SharedMemory.Allocate<float>(Chunk * MaxStride);
        var bestValues = SharedMemory.Allocate<float>(MaxSide * MaxRows);
        var bestIndices = SharedMemory.Allocate<int>(MaxSide * MaxRows);
        int threads = side * side, tile = 4 * side, stride = tile + 1;
        int t = Group.IdxX, tx = t % side, ty = t / side;
        int row0 = Grid.IdxX * tile;
        // This thread's rows are ty + side·i and its centroids c0 + tx + side·j: neighbouring threads read neighbouring words.
        float v0 = float.PositiveInfinity, v1 = float.PositiveInfinity, v2 = float.PositiveInfinity, v3 = float.PositiveInfinity;
        int i0 = int.MaxValue, i1 = int.MaxValue, i2 = int.MaxValue, i3 = int.MaxValue;
        for (int c0 = 0; c0 < k; c0 += tile)
        {
            float a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
            float a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
            for (int f0 = 0; f0 < d; f0 += Chunk)
            {
                // 16 values of each row and centroid of the tiles, four a thread, along the features in global memory; zero past
                // the edges.
                for (int e = t; e < Chunk * tile; e += threads)
                {
                    int r = e / Chunk, f = e % Chunk;
                    xs[f * stride + r] = row0 + r < n && f0 + f < d ? rows[(long)(row0 + r) * d + f0 + f] : 0f;
                    cs[f * stride + r] = c0 + r < k && f0 + f < d ? centroids[(long)(c0 + r) * d + f0 + f] : 0f;
                }
                Group.Barrier();
                for (int f = 0; f < Chunk; f++)
                {
                    int at = f * stride;
                    float x0 = xs[at + ty], x1 = xs[at + ty + side], x2 = xs[at + ty + 2 * side], x3 = xs[at + ty + 3 * side];
                    float y0 = cs[at + tx], y1 = cs[at + tx + side], y2 = cs[at + tx + 2 * side], y3 = cs[at + tx + 3 * side];
                    a00 += x0 * y0; a01 += x0 * y1; a02 += x0 * y2; a03 += x0 * y3;
                    a10 += x1 * y0; a11 += x1 * y1; a12 += x1 * y2; a13 += x1 * y3;
                    a20 += x2 * y0; a21 += x2 * y1; a22 += x2 * y2; a23 += x2 * y3;
                    a30 += x3 * y0; a31 += x3 * y1; a32 += x3 * y2; a33 += x3 * y3;
                }
                Group.Barrier();
            }
            // Centroids in increasing order within this thread, so a strict comparison keeps the lower index on ties.
            Keep(ref v0, ref i0, ref v1, ref i1, ref v2, ref i2, ref v3, ref i3, a00, a10, a20, a30, c0 + tx, k, norms);
            Keep(ref v0, ref i0, ref v1, ref i1, ref v2, ref i2, ref v3, ref i3, a01, a11, a21, a31, c0 + tx + side, k, norms);
            Keep(ref v0, ref i0, ref v1, ref i1, ref v2, ref i2, ref v3, ref i3, a02, a12, a22, a32, c0 + tx + 2 * side, k, norms);
            Keep(ref v0, ref i0, ref v1, ref i1, ref v2, ref i2, ref v3, ref i3, a03, a13, a23, a33, c0 + tx + 3 * side, k, norms);
        }
        int mine = tx * tile + ty;
        bestValues[mine] = v0;
        bestIndices[mine] = i0;
        bestValues[mine + side] = v1;
        bestIndices[mine + side] = i1;
        bestValues[mine + 2 * side] = v2;
        bestIndices[mine + 2 * side] = i2;
        bestValues[mine + 3 * side] = v3;
        bestIndices[mine + 3 * side] = i3;
        Group.Barrier();
        for (int r = t; r < tile; r += threads)
        {
            if (row0 + r >= n)
                break;
            // The side threads' bests of row r, least key first and then the lower index.
            float best = bestValues[r];
            int label = bestIndices[r];
            for (int s = 1; s < side; s++)
            {
                float value = bestValues[s * tile + r];
                int index = bestIndices[s * tile + r];
                if (value < best || (value == best && index < label))
                {
                    best = value;
                    label = index;
                }
            }
            if (label == int.MaxValue)
                label = 0;  // no key below +inf (never for finite rows)
            labels[row0 + r] = label;
            distances[row0 + r] = IlgpuKernels.SquaredDistance(rows, (long)(row0 + r) * d, centroids, (long)label * d, d);
        }
    }

    /// <summary>Centroid <paramref name="c"/>'s keys for this thread's four rows, kept where lower than their bests.</summary>
    private static void Keep(ref float v0, ref int i0, ref float v1, ref int i1, ref float v2, ref int i2, ref float v3, ref int i3,
        float dot0, float dot1, float dot2, float dot3, int c, int k, ArrayView<float> norms)
    {
        if (c >= k)
            return;
        float norm = norms[c];
        float key = norm - 2f * dot0;
        if (key < v0) { v0 = key; i0 = c; }
        key = norm - 2f * dot1;
        if (key < v1) { v1 = key; i1 = c; }
        key = norm - 2f * dot2;
        if (key < v2) { v2 = key; i2 = c; }
        key = norm - 2f * dot3;
        if (key < v3) { v3 = key; i3 = c; }
    }
}
