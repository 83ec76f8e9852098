using System.Collections.Concurrent;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cpu;

/// <summary>
/// Greedy k-means++'s candidate evaluation (<see cref="CpuDataBinding.EvaluateSeedCandidates"/>), pruned with the
/// seeds and bound of the distance update: a row none of whose candidates can come nearer than its nearest seed
/// contributes exactly w·D² to every candidate's potential (min(D², v_c) is D²), and committing the winner leaves
/// it as it is (v_c &lt; D² is false). Such a row is never read; the others get every candidate's distance from
/// <see cref="FusedAssignKernel.PanelDistances"/>, bit for bit what <see cref="FusedAssignKernel.AllDistances"/> gives.
/// </summary>
/// <remarks>
/// <para>
/// The bound, in squared form so that a row costs no square root. Let R bound the norms of every seed and every
/// candidate, E(x) = (3d + 12)·γ·(‖x‖ + R)² as in the update. Per seed s, G²(s) ≤ min over candidates c of
/// ‖c − s‖², taken as the kernel's smallest distance from s less E(s), rounded down. Per row, with nearest seed s
/// at the kernel's distance D², T²(x) = 4·(D² + E(x)), rounded up. If G²(s) ≥ T²(x), every candidate has
/// ‖c − s‖ ≥ 2·√(D² + E(x)); as ‖x − s‖ ≤ √(D² + E(x)), ‖x − c‖² ≥ D² + E(x), so the kernel's v_c ≥ D².
/// </para>
/// <para>
/// ‖x‖ comes from an upper bound kept per row for the binding's lifetime (its data never changes), measured the
/// first time a row is evaluated, so a skipped row costs its distance, owner and weight, not its d features.
/// Where a distance or a norm is not finite, or (‖x‖ + R)² nears float32's range, the row is computed.
/// </para>
/// <para>
/// The computed rows use a packing no wider than the candidates need (8 lanes for the usual 2 + ln K ≤ 8 of
/// them, where the unpruned pass computes two panels of 16): every lane's arithmetic is the same fused
/// multiply-add chain at any width, so this changes no bit.
/// </para>
/// </remarks>
internal sealed partial class SeedDistancePruning
{
    private PackedCentroids? _candidates;
    // Per seed (the first _candidateSeeds), G²(s)/4 against this evaluation's candidates, in float64.
    private double[] _candidateRoom = [];
    private int _candidateSeeds;
    // R for this evaluation: seeds' and candidates' norms.
    private double _candidateReach;
    // Per row, an upper bound on ‖x‖ as float32; NaN until measured.
    private float[] _rowNorms = [];
    private readonly ConcurrentBag<CandidateScratch> _candidateScratch = [];
    private long _candidateRowsComputed, _candidateRowsSkipped;

    /// <summary>Rows whose candidate distances pruned evaluations computed (tests, diagnostics).</summary>
    public long CandidateRowsComputed => Interlocked.Read(ref _candidateRowsComputed);

    /// <summary>Rows pruned evaluations proved no candidate could bring nearer, and skipped (tests, diagnostics).</summary>
    public long CandidateRowsSkipped => Interlocked.Read(ref _candidateRowsSkipped);

    /// <summary>
    /// Prepares an evaluation of <paramref name="candidates"/> (m × d) against the seeds added since the last
    /// reset, over <paramref name="rowCount"/> rows; false where pruning cannot serve it (no seed yet, or norms
    /// too large), and the caller evaluates unpruned.
    /// </summary>
    public bool BeginCandidates(ReadOnlySpan<float> candidates, long rowCount)
    {
        int d = _d, m = candidates.Length / d;
        if (m == 0 || _count <= 0 || (long)_count * d > _seeds.Length || rowCount > Array.MaxLength)
            return false;
        double reach = _largestNorm;
        for (int j = 0; j < m; j++)
        {
            var candidate = candidates.Slice(j * d, d);
            double norm = Math.Sqrt(VectorMath.DotDouble(candidate, candidate)) * (1 + 1e-9);
            bool finite = float.IsFinite(VectorMath.SquaredNorm(candidate)) && double.IsFinite(norm);
            reach = finite ? Math.Max(reach, norm) : double.PositiveInfinity;
        }
        if (!(4 * reach * reach < LargestReachSquared))
            return false;
        _candidateReach = reach;
        _candidates = PackedCentroids.Pack(candidates, d, CandidateWidth(m));
        if (_rowNorms.Length != rowCount)
        {
            _rowNorms = new float[rowCount];
            Array.Fill(_rowNorms, float.NaN);
        }
        int seeds = _candidateSeeds = _count;
        if (_candidateRoom.Length < seeds)
            _candidateRoom = new double[Math.Max(seeds, 2 * _candidateRoom.Length)];
        const int Block = 64;
        int blocks = (seeds + Block - 1) / Block;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _threads };
        Threading.ParallelWork.For(0, blocks, options, block => MeasureCandidateRoom(block * Block, Math.Min(Block, seeds - block * Block)));
        return true;
    }

    /// <summary>
    /// The narrowest packing that holds the m candidates in one panel, down to 4 lanes, where every width's
    /// multiply-add is fused (x86 with FMA); the machine's own width otherwise.
    /// </summary>
    private static int CandidateWidth(int m)
    {
        int width = PackedCentroids.PreferredWidth;
        if (Fma.IsSupported)
        {
            while (width > 4 && m <= width / 2)
                width /= 2;
        }
        return width;
    }

    /// <summary>
    /// G²(s)/4 for seeds [first, first + count): the kernel's smallest distance to a candidate less E(s), a
    /// quarter of it, rounded down; −∞ where that is not positive and finite (rows of that seed are computed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MeasureCandidateRoom(int first, int count)
    {
        var packed = _candidates!;
        int d = _d, m = packed.Count;
        float[] block = System.Buffers.ArrayPool<float>.Shared.Rent(count * m);
        try
        {
            FusedAssignKernel.AllDistances(_seeds.AsSpan(first * d, count * d), packed, block.AsSpan(0, count * m));
            for (int i = 0; i < count; i++)
            {
                int s = first + i;
                double reach = _seedNorms[s] + _candidateReach;
                double margin = _errorScale * reach * reach * (1 + 1e-9);
                double gap = TensorPrimitives.Min(block.AsSpan(i * m, m)) - margin;
                _candidateRoom[s] = gap > 0 && double.IsFinite(gap) ? gap / 4 * (1 - 1e-12) : double.NegativeInfinity;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(block);
        }
    }

    /// <summary>
    /// One chunk of the evaluation: adds each row's w·min(D², ‖x − c‖²) to <paramref name="partials"/>[c] in row
    /// order, exactly as the unpruned evaluation does, and records the distances it computed.
    /// </summary>
    /// <param name="rows">The chunk, count × d.</param>
    /// <param name="firstRow">The chunk's first row in the whole data.</param>
    /// <param name="current">Each row's D².</param>
    /// <param name="owners">Each row's nearest seed, −1 for none.</param>
    /// <param name="weights">Each row's weight; empty for weights of 1.</param>
    /// <param name="partials">Per candidate, the chunk's running sum.</param>
    /// <param name="distances">m × N, candidate-major over the whole data: a computed row's distances to the candidates;
    /// left as they are for a skipped row. May be null.</param>
    /// <param name="computed">Per row, whether its distances were computed.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void EvaluateChunk(ReadOnlySpan<float> rows, int firstRow, ReadOnlySpan<float> current, ReadOnlySpan<int> owners,
        ReadOnlySpan<float> weights, Span<double> partials, float[]? distances, Span<bool> computed)
    {
        var packed = _candidates!;
        int d = _d, count = current.Length, m = packed.Count, panels = (m + packed.Width - 1) / packed.Width;
        var scratch = _candidateScratch.TryTake(out var taken) ? taken : new CandidateScratch();
        scratch.Prepare(count, m);
        try
        {
            var rowNorms = _rowNorms.AsSpan(firstRow, count);
            var room = _candidateRoom.AsSpan(0, _candidateSeeds);
            double reach = _candidateReach, scale = _errorScale;
            int needed = 0;
            for (int i = 0; i < count; i++)
            {
                float norm = rowNorms[i];
                if (float.IsNaN(norm))
                {
                    var x = rows.Slice(i * d, d);
                    rowNorms[i] = norm = NormBound(VectorMath.SquaredNorm(x));
                }
                // D² + E(x), rounded up (a few float64 roundings of non-negative terms, far inside the 10⁻¹² added);
                // ∞ or NaN where D² or ‖x‖ is not finite, and never compared where (‖x‖ + R)² could overflow a key.
                int owner = owners[i];
                double span = norm + reach;
                double bound = (current[i] + scale * span * span) * (1 + 1e-12);
                bool skip = (uint)owner < (uint)room.Length && span * span < LargestReachSquared && bound <= room[owner];
                computed[i] = !skip;
                scratch.Needed[needed] = i;
                needed += skip ? 0 : 1;
            }
            var list = scratch.Needed.AsSpan(0, needed);
            var values = scratch.Values.AsSpan(0, needed * m);
            for (int p = 0; p < panels; p++)
                FusedAssignKernel.PanelDistances(rows, packed, p, list, values);
            if (distances is not null)
            {
                long rowCount = _rowNorms.Length;
                for (int n = 0; n < needed; n++)
                {
                    long row = firstRow + list[n];
                    for (int j = 0; j < m; j++)
                        distances[j * rowCount + row] = values[n * m + j];
                }
            }
            Accumulate(current, weights, computed, values, partials);
            Interlocked.Add(ref _candidateRowsComputed, needed);
            Interlocked.Add(ref _candidateRowsSkipped, count - needed);
        }
        finally
        {
            _candidateScratch.Add(scratch);
        }
    }

    /// <summary>
    /// Adds, row by row in order, w·min(D², v_c) to each candidate c's partial sum: for a computed row from its
    /// distances (the next m of <paramref name="values"/>), for a skipped one w·D², which equals it. Each sum sees
    /// the same terms in the same order as the unpruned loop; up to 8 candidates, the sums stay in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate(ReadOnlySpan<float> current, ReadOnlySpan<float> weights, ReadOnlySpan<bool> computed,
        ReadOnlySpan<float> values, Span<double> partials)
    {
        int count = current.Length, m = partials.Length, next = 0;
        if (m > 8)
        {
            for (int i = 0; i < count; i++)
            {
                float distance = current[i];
                double w = weights.IsEmpty ? 1f : weights[i];
                if (computed[i])
                {
                    var row = values.Slice(next++ * m, m);
                    for (int j = 0; j < m; j++)
                        partials[j] += w * Math.Min(distance, row[j]);
                }
                else
                {
                    double term = w * distance;
                    for (int j = 0; j < m; j++)
                        partials[j] += term;
                }
            }
            return;
        }
        // Lanes past m add terms that are never stored back.
        Span<double> terms = stackalloc double[8];
        partials.CopyTo(terms);
        var low = Vector256.Create(terms[0], terms[1], terms[2], terms[3]);
        var high = Vector256.Create(terms[4], terms[5], terms[6], terms[7]);
        terms.Clear();
        for (int i = 0; i < count; i++)
        {
            float distance = current[i];
            double w = weights.IsEmpty ? 1f : weights[i];
            if (computed[i])
            {
                var row = values.Slice(next++ * m, m);
                for (int j = 0; j < m; j++)
                    terms[j] = w * Math.Min(distance, row[j]);
                low += Vector256.Create(terms[0], terms[1], terms[2], terms[3]);
                high += Vector256.Create(terms[4], terms[5], terms[6], terms[7]);
            }
            else
            {
                var term = Vector256.Create(w * distance);
                low += term;
                high += term;
            }
        }
        terms[0] = low[0];
        terms[1] = low[1];
        terms[2] = low[2];
        terms[3] = low[3];
        terms[4] = high[0];
        terms[5] = high[1];
        terms[6] = high[2];
        terms[7] = high[3];
        terms.Slice(0, m).CopyTo(partials);
    }

    /// <summary>An upper bound on ‖x‖ from the kernel's float32 ‖x‖²; +∞ where that is not finite.</summary>
    private float NormBound(float squaredNorm)
    {
        if (!float.IsFinite(squaredNorm))
            return float.PositiveInfinity;
        double norm = Math.Sqrt(squaredNorm * (1 + 2 * (_d + 1) * Unit)) * (1 + 1e-12);
        float value = (float)norm;
        return value < norm ? MathF.BitIncrement(value) : value;
    }

    /// <summary>One chunk's working arrays, pooled (no more of them than chunks in flight).</summary>
    private sealed class CandidateScratch
    {
        public int[] Needed = [];
        public float[] Values = [];

        public void Prepare(int rows, int m)
        {
            if (Needed.Length < rows)
                Needed = new int[rows];
            if (Values.Length < rows * m)
                Values = new float[rows * m];
        }
    }
}
