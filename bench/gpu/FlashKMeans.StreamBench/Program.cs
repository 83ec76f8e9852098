using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using FlashKMeans;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;

// Out-of-core benchmark (issue 4): N × d standard-normal rows in host memory, K clusters, fixed Lloyd
// iterations through StreamingCudaDataBinding, each iteration timed on the host around Step (which
// returns after the device has drained: "synchronised at both ends"). Medians are reported.
//
// Cases (--cases, comma separated):
//   bw        pinned host→device bandwidth: the fp16 data, page-locked, copied in batch-sized pieces (events)
//   f16direct fp16 host data, page-locked, cache disabled: copies read the data itself (the reference protocol)
//   f16ring   fp16 host data in pageable memory, cache disabled: host copy into the 64 MiB pinned ring
//             buffers [ring]
//   f32conv   fp32 host data (pageable), fp16 compute: host threads convert into the ring [ring]
//   f32pinned fp32 host data, page-locked, fp16 compute: host/GPU conversion split at several shares
//   cached    fp16 host data, cache enabled (everything fits): first iteration streams, later ones read the cache
//   resident  the in-memory binding on the same rows, for comparison
//   large     --large-n rows of fp16 (pageable) with --budget-gib of cache: the largest problem
//
// Usage: FlashKMeans.StreamBench [--n N] [--d D] [--k K] [--iters I] [--threads T] [--batch-rows R] [--cases ...]
//                                [--large-n N] [--budget-gib G] [--shares 0,0.5,1]
long n = 16_777_216;
int d = 128, k = 4096, iterations = 5, threads = Environment.ProcessorCount;
int? batchRows = null;
long largeN = 268_435_456;
double budgetGib = 40;
double[] shares = [0.0, 0.5, 0.6, 0.7, 1.0];
var cases = new HashSet<string>(["bw", "f16direct", "f16ring", "f32conv", "f32pinned", "cached", "resident"]);
for (int i = 0; i < args.Length; i++)
{
    string Next() => args[++i];
    switch (args[i])
    {
        case "--n": n = long.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--d": d = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--k": k = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--iters": iterations = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--batch-rows": batchRows = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--cases": cases = [.. Next().Split(',')]; break;
        case "--large-n": largeN = long.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--budget-gib": budgetGib = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--shares": shares = Next().Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray(); break;
        default: throw new ArgumentException($"Unknown argument {args[i]}");
    }
}

using var context = CudaContext.Open(0);
var (free0, total0) = context.MemoryInfo();
Console.WriteLine(Inv($"# device: {context.Name}, sm_{context.ComputeCapability}, {context.MultiprocessorCount} SMs, {total0 / 1e9:F1} GB ({free0 / 1e9:F1} free); host: {Environment.ProcessorCount} CPUs; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC"));
Console.WriteLine(Inv($"# N={n} d={d} K={k} iterations={iterations} host threads={threads}"));
using var session = new CudaSession(context, new CudaPrecision(ComputePrecision.Float16), ownsContext: false);
var results = new List<string>();
double measuredBandwidth = double.NaN;
var initial = new float[k * d];

unsafe
{
    long values = n * d;
    var clock = Stopwatch.StartNew();
    float* f32 = null;
    Half* f16 = null;
    bool needF32 = cases.Contains("f32conv") || cases.Contains("resident") || cases.Contains("f32pinned");
    bool needF16 = cases.Overlaps(["bw", "f16direct", "f16ring", "cached", "cached2"]);
    if (needF32 || needF16)
    {
        f32 = (float*)NativeMemory.AlignedAlloc((nuint)(values * 4), 4096);
        FillNormal(f32, values, 42, threads);
        Console.WriteLine(Inv($"# generated {values * 4 / 1e9:F1} GB of fp32 in {clock.Elapsed.TotalSeconds:F1} s"));
        if (needF16)
        {
            f16 = (Half*)NativeMemory.AlignedAlloc((nuint)(values * 2), 4096);
            Parallel.For(0, 1024, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
            {
                long a = values * c / 1024, b = values * (c + 1) / 1024;
                for (long i = a; i < b; i += 1 << 20)
                {
                    int m = (int)Math.Min(1 << 20, b - i);
                    HalfPrecisionConversion.ToHalf(new ReadOnlySpan<float>(f32 + i, m), new Span<Half>(f16 + i, m));
                }
            });
        }
    }
    // Initial centroids: rows spread over the data, as the fp16 data holds them (the same for every case).
    if (f32 != null)
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++)
                initial[c * d + j] = (float)(Half)f32[(c * (n / k)) * d + j];
    double f16Gb = values * 2 / 1e9;

    if (cases.Contains("bw"))
    {
        using var registration = new HostRegistration(context, (nint)f16, values * 2);
        using var device = new DeviceBuffer<byte>(context, values * 2);
        using var stream = new CudaStream(context);
        using var start = new CudaEvent(context);
        using var end = new CudaEvent(context);
        foreach (long piece in new[] { 64L << 20, 1L << 30 })
        {
            var times = new List<double>();
            for (int r = 0; r < 4; r++)
            {
                start.Record(stream);
                for (long off = 0; off < values * 2; off += piece)
                    CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyHtoDAsync(device.Pointer + (ulong)off, (byte*)f16 + off, (nuint)Math.Min(piece, values * 2 - off), stream.Handle));
                end.Record(stream);
                end.Synchronize();
                times.Add(end.ElapsedSince(start));
            }
            times.RemoveAt(0);  // first copy touches the pages
            double best = times.Min(), median = Median(times);
            double gbs = f16Gb / (median * 1e-3);
            measuredBandwidth = double.IsNaN(measuredBandwidth) ? gbs : Math.Max(measuredBandwidth, gbs);
            results.Add(Inv($"| pinned H2D, {piece >> 20} MiB pieces | {f16Gb:F2} GB | {median:F1} ms (best {best:F1}) | {gbs:F1} GB/s | |"));
            Console.WriteLine(results[^1]);
        }
    }

    if (cases.Contains("f16direct"))
    {
        using var registration = new HostRegistration(context, (nint)f16, values * 2);
        var source = new UnmanagedRowsBatchSource((nint)f16, n, d, RowElementType.Float16) { IsPageLocked = true };
        Run("fp16 host (pinned), cache off", source, GpuDataMode.Streaming, null, f16Gb);
    }
    if (cases.Contains("f16ring"))
    {
        Run("fp16 host (pageable), cache off", new UnmanagedRowsBatchSource((nint)f16, n, d, RowElementType.Float16), GpuDataMode.Streaming, null, f16Gb);
    }
    if (cases.Contains("f32conv"))
    {
        // Host conversion throughput alone, one ring batch on all threads, for the notes.
        int rowsPer = batchRows ?? 262_144;
        var dst = new byte[(long)rowsPer * d * 2];
        var src = new ReadOnlySpan<byte>(f32, rowsPer * d * 4);
        var sw = Stopwatch.StartNew();
        int reps = 20;
        for (int r = 0; r < reps; r++)
            HalfPrecisionConversion.ConvertRows(src, RowElementType.Float32, rowsPer, d, dst, TransferElement.Float16, d, threads);
        double s = sw.Elapsed.TotalSeconds / reps;
        Console.WriteLine(Inv($"# host fp32→fp16 conversion of one {rowsPer}-row batch on {threads} threads: {s * 1e3:F2} ms, {rowsPer * (long)d * 4 / s / 1e9:F1} GB/s read"));
        Run("fp32 host → fp16 on host, cache off", new UnmanagedRowsBatchSource((nint)f32, n, d, RowElementType.Float32), GpuDataMode.Streaming, null, f16Gb);
    }
    if (cases.Contains("f32pinned"))
    {
        // fp32 rows in page-locked memory (the reference protocol's setting), fp16 compute: the share of
        // rows converted on the host against the share sent as fp32 and packed on the GPU.
        using var registration = new HostRegistration(context, (nint)f32, values * 4);
        var source = new UnmanagedRowsBatchSource((nint)f32, n, d, RowElementType.Float32) { IsPageLocked = true };
        foreach (double share in shares)
            Run("fp32 host (pinned), fp16 compute, cache off", source, GpuDataMode.Streaming, null, f16Gb, share: share);
    }
    if (cases.Contains("resident"))
    {
        // The in-memory binding on the same fp32 rows (uploaded once), the speed a full cache should match.
        using var rows = new DeviceBuffer<float>(context, values);
        for (long off = 0; off < values; off += 1L << 30)
        {
            int m = (int)Math.Min(1L << 30, values - off);
            rows.CopyFrom(new ReadOnlySpan<float>(f32 + off, m), off, session.Stream);
        }
        using var binding = new CudaDataBinding(session, rows, n, d, k);
        rows.Dispose();
        binding.SetCentroids(initial);
        var (first, median) = Iterate(binding);
        Console.WriteLine(Inv($"# resident: assign alone {TimeEvents(binding.EnqueueAssign):F2} ms, update and the rest alone {TimeEvents(binding.EnqueueUpdate):F2} ms (events)"));
        results.Add(Inv($"| in-memory (resident) binding | — | first {first:F1} ms | {median:F2} ms/iter | |"));
        Console.WriteLine(results[^1]);
    }
    if (cases.Contains("cached"))
    {
        using var registration = new HostRegistration(context, (nint)f16, values * 2);
        var source = new UnmanagedRowsBatchSource((nint)f16, n, d, RowElementType.Float16) { IsPageLocked = true };
        Run("fp16 host, cache on (all fits)", source, GpuDataMode.Cached, null, f16Gb);
    }
    if (cases.Contains("cached2"))
    {
        using var registration = new HostRegistration(context, (nint)f16, values * 2);
        var source = new UnmanagedRowsBatchSource((nint)f16, n, d, RowElementType.Float16) { IsPageLocked = true };
        Run("fp16 host, cache on (all fits), again", source, GpuDataMode.Cached, null, f16Gb);
    }
    if (f16 != null)
        NativeMemory.AlignedFree(f16);
    if (f32 != null)
        NativeMemory.AlignedFree(f32);

    if (cases.Contains("large"))
    {
        long lv = largeN * d;
        var big = (Half*)NativeMemory.AlignedAlloc((nuint)(lv * 2), 4096);
        try
        {
            var gen = Stopwatch.StartNew();
            FillNormalHalf(big, lv, 7, threads);
            Console.WriteLine(Inv($"# generated {lv * 2 / 1e9:F1} GB of fp16 in {gen.Elapsed.TotalSeconds:F1} s"));
            for (int c = 0; c < k; c++)
                for (int j = 0; j < d; j++)
                    initial[c * d + j] = (float)big[(c * (largeN / k)) * d + j];
            long budget = (long)(budgetGib * (1L << 30));
            using var registration = new HostRegistration(context, (nint)big, lv * 2);
            var source = new UnmanagedRowsBatchSource((nint)big, largeN, d, RowElementType.Float16) { IsPageLocked = true };
            Run(Inv($"large: N={largeN}, fp16 pinned, cache {budgetGib:F0} GiB"), source, GpuDataMode.Cached, budget, lv * 2 / 1e9, largeN);
        }
        finally
        {
            NativeMemory.AlignedFree(big);
        }
    }
}

Console.WriteLine();
Console.WriteLine(Inv($"# measured pinned H2D bandwidth: {measuredBandwidth:F1} GB/s"));
Console.WriteLine("| case | X bytes | bind (first pass) | ms/iter | X streamed GB/s | share of pinned H2D |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
foreach (var r in results)
    Console.WriteLine(r);

void Run(string name, IBatchSource source, GpuDataMode mode, long? budget, double gb, long? rowsOverride = null, double? share = null)
{
    long rows = rowsOverride ?? n;
    var plan = StreamingPlanner.Plan(rows, d * 2, d * 2, context.MemoryInfo().Free, mode, batchRows, 3, budget);
    Console.WriteLine($"# {name}: {plan.Reason}");
    var bind = Stopwatch.StartNew();
    using var binding = new StreamingCudaDataBinding(session, source, rows, k, deterministic: false, plan, threads, null, default, share);
    double bindMs = bind.Elapsed.TotalMilliseconds;
    binding.SetCentroids(initial);
    var (first, median) = Iterate(binding);
    if (mode == GpuDataMode.Cached && plan.CachedBatches == plan.BatchCount)
        Console.WriteLine(Inv($"# {name}: assign alone over the cache {TimeEvents(binding.EnqueueCachedAssign):F2} ms (events)"));
    double streamedGb = gb * (plan.BatchCount - plan.CachedBatches) / plan.BatchCount;
    double gbs = streamedGb / (median * 1e-3);
    string ofLink = double.IsNaN(measuredBandwidth) || streamedGb == 0 ? "" : Inv($"{100 * gbs / measuredBandwidth:F1}%");
    results.Add(Inv($"| {name}{(binding.CopiesFromSource ? " [direct]" : binding.SplitsConversion ? Inv($" [split, {share:P0} on host]") : " [ring]")} | {gb:F2} GB | {bindMs:F0} ms | {median:F2} (first {first:F1}) | {(streamedGb == 0 ? "cache" : gbs.ToString("F1", CultureInfo.InvariantCulture))} | {ofLink} |"));
    Console.WriteLine(results[^1]);
}

(double First, double Median) Iterate(FlashKMeans.Backends.IKMeansDataBinding binding)
{
    var sw = Stopwatch.StartNew();
    binding.Step(false, default);
    double first = sw.Elapsed.TotalMilliseconds;
    binding.Step(false, default);
    var times = new List<double>();
    for (int i = 0; i < iterations; i++)
    {
        sw.Restart();
        binding.Step(false, default);
        times.Add(sw.Elapsed.TotalMilliseconds);
    }
    return (first, Median(times));
}

double TimeEvents(Action enqueue)
{
    using var start = new CudaEvent(context);
    using var end = new CudaEvent(context);
    enqueue();
    session.Stream.Synchronize();
    var times = new List<double>();
    for (int i = 0; i < 5; i++)
    {
        start.Record(session.Stream);
        enqueue();
        end.Record(session.Stream);
        end.Synchronize();
        times.Add(end.ElapsedSince(start));
    }
    return Median(times);
}

static double Median(List<double> values)
{
    values.Sort();
    int m = values.Count / 2;
    return values.Count % 2 == 1 ? values[m] : 0.5 * (values[m - 1] + values[m]);
}

static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

// Standard normal values, Box–Muller over a per-chunk xorshift generator: reproducible for a seed
// whatever the thread count.
static unsafe void FillNormal(float* output, long count, ulong seed, int threads)
{
    const long Chunk = 1 << 22;
    long chunks = (count + Chunk - 1) / Chunk;
    Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
    {
        ulong s = seed * 0x9E3779B97F4A7C15UL ^ (ulong)(c + 1) * 0xBF58476D1CE4E5B9UL;
        long a = c * Chunk, b = Math.Min(count, a + Chunk);
        for (long i = a; i < b; i += 2)
        {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            float u1 = ((s >> 40) + 1) * (1f / 16777217f);
            float u2 = ((s >> 16) & 0xFFFFFF) * (1f / 16777216f);
            float r = MathF.Sqrt(-2f * MathF.Log(u1));
            var (sin, cos) = MathF.SinCos(2f * MathF.PI * u2);
            output[i] = r * cos;
            if (i + 1 < b)
                output[i + 1] = r * sin;
        }
    });
}

static unsafe void FillNormalHalf(Half* output, long count, ulong seed, int threads)
{
    const long Chunk = 1 << 22;
    long chunks = (count + Chunk - 1) / Chunk;
    Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => new float[Chunk], (c, _, buffer) =>
    {
        long a = c * Chunk, m = Math.Min(count, a + Chunk) - a;
        fixed (float* p = buffer)
            FillNormal(p, m, seed + (ulong)c * 7919, 1);
        HalfPrecisionConversion.ToHalf(buffer.AsSpan(0, (int)m), new Span<Half>(output + a, (int)m));
        return buffer;
    }, _ => { });
}
