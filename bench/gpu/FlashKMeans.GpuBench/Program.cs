using System.Diagnostics;
using System.Globalization;
using FlashKMeans;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

// Times the CUDA backend on the shapes of ANCHORS.md, following its protocol: standard normal data
// already on the GPU, fixed iterations after warm-up, the device synchronised at both ends of each
// timed iteration. "ms/iter" is one full Lloyd step as the engine drives it (assign, label changes,
// sort-inverse update, inertia, read-back of the K cluster weights); "assign" is the fused kernel
// alone and "update" everything else of the step (sort-inverse update, label changes, inertia,
// centroid packing, copies to pinned memory), both timed with CUDA events; "host" is what remains
// of ms/iter (graph launch, synchronisation, reading the results). Medians are reported. TFLOP/s
// counts 2·N·K·d per assignment.
//
// Usage: FlashKMeans.GpuBench [--iters N] [--only SUBSTRING]
int iterations = 20;
string? only = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--iters") iterations = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--only") only = args[++i];
}

var shapes = new (int B, int N, int K, int D, ComputePrecision P, bool Det)[]
{
    (1, 1 << 20, 1024, 128, ComputePrecision.Float16, false),
    (1, 1 << 23, 1024, 128, ComputePrecision.Float16, false),
    (1, 1 << 20, 8192, 128, ComputePrecision.Float16, false),
    (1, 1 << 20, 256, 128, ComputePrecision.Float16, false),
    (1, 1 << 20, 1024, 512, ComputePrecision.Float16, false),
    (1, 1 << 20, 1024, 128, ComputePrecision.TensorFloat32, false),
    (1, 1 << 20, 8192, 128, ComputePrecision.TensorFloat32, false),
    (32, 131072, 1000, 128, ComputePrecision.Float16, false),
    (8, 16384, 100, 128, ComputePrecision.Float16, false),
    // Beyond the anchors: the deterministic update and exact fp32.
    (1, 1 << 20, 1024, 128, ComputePrecision.Float16, true),
    (1, 1 << 20, 1024, 128, ComputePrecision.Float32, false),
};

using var context = CudaContext.Open(0);
Console.WriteLine($"# device: {context.Name}, sm_{context.ComputeCapability}, {context.MultiprocessorCount} SMs; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; iterations {iterations}");
Console.WriteLine("| B | N | K | d | precision | update | ms/iter | assign ms | assign TFLOP/s | update ms | host ms |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
foreach (var shape in shapes)
{
    string name = $"B={shape.B} N={shape.N} K={shape.K} d={shape.D} {shape.P}{(shape.Det ? " det" : "")}";
    if (only is not null && !name.Contains(only, StringComparison.Ordinal))
        continue;
    using var session = new CudaSession(context, new CudaPrecision(shape.P), ownsContext: false);
    var (iter, assign, update) = shape.B == 1 ? Single(session, shape.N, shape.K, shape.D, shape.Det, iterations) : Batched(session, shape.B, shape.N, shape.K, shape.D, iterations);
    double tflops = 2.0 * shape.B * shape.N * shape.K * shape.D / (assign * 1e-3) / 1e12;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {shape.B} | {shape.N:N0} | {shape.K} | {shape.D} | {shape.P}{(session.UsesWgmma ? " (wgmma)" : "")} | {(shape.Det ? "fixed-point" : "fp64 atomics")} | {iter:F3} | {assign:F3} | {tflops:F0} | {update:F3} | {iter - assign - update:F3} |"));
}

static (double Iter, double Assign, double Update) Single(CudaSession s, int n, int k, int d, bool deterministic, int iterations)
{
    using var rows = new DeviceBuffer<float>(s.Context, (long)n * d);
    s.FillNormal(rows.Pointer, (long)n * d, 42);
    using var binding = new CudaDataBinding(s, rows, n, d, k, deterministic);
    var initial = new float[k * d];
    binding.GatherRows(Enumerable.Range(0, k).Select(i => (long)i * (n / k)).ToArray(), initial, default, default);
    binding.SetCentroids(initial);
    for (int i = 0; i < 3; i++)
        binding.Step(false, default);
    var steps = new List<double>();
    for (int i = 0; i < iterations; i++)
    {
        var clock = Stopwatch.StartNew();
        binding.Step(false, default);  // returns after the stream has drained
        steps.Add(clock.Elapsed.TotalMilliseconds);
    }
    double assign = TimeEvents(s, iterations, binding.EnqueueAssign);
    double update = TimeEvents(s, iterations, binding.EnqueueUpdate);
    return (Median(steps), assign, update);
}

static (double Iter, double Assign, double Update) Batched(CudaSession s, int b, int n, int k, int d, int iterations)
{
    // The engine's Lloyd loop fits one problem; B independent problems use the kernels' batch
    // dimension directly with the same launch sequence as CudaDataBinding.Step.
    var ctx = s.Context;
    int ld = s.Precision.Pitch(d);
    long rows = (long)b * n;
    int clusters = b * k;
    using var raw = new DeviceBuffer<float>(ctx, rows * d);
    using var x = new DeviceBuffer<byte>(ctx, rows * ld * s.Precision.ElementBytes);
    using var xNorms = new DeviceBuffer<float>(ctx, rows);
    using var labels = new DeviceBuffer<int>(ctx, rows);
    using var previous = new DeviceBuffer<int>(ctx, rows);
    using var distances = new DeviceBuffer<float>(ctx, rows);
    using var centroids = new DeviceBuffer<float>(ctx, (long)clusters * d);
    using var packed = new DeviceBuffer<byte>(ctx, (long)clusters * ld * s.Precision.ElementBytes);
    using var cNorms = new DeviceBuffer<float>(ctx, clusters);
    using var counts = new DeviceBuffer<int>(ctx, clusters);
    using var offsets = new DeviceBuffer<int>(ctx, clusters + 1L);
    using var cursor = new DeviceBuffer<int>(ctx, clusters);
    using var sorted = new DeviceBuffer<int>(ctx, rows);
    using var sums = new DeviceBuffer<long>(ctx, (long)clusters * d);
    using var shift = new DeviceBuffer<float>(ctx, clusters);
    using var weightOut = new DeviceBuffer<double>(ctx, clusters);
    using var partials = new DeviceBuffer<double>(ctx, 64L * b);
    using var scalars = new DeviceBuffer<long>(ctx, b + 1L);
    using var hostWeights = new PinnedBuffer<double>(ctx, clusters);
    s.FillNormal(raw.Pointer, rows * d, 42);
    s.PackRows(raw.Pointer, rows, d, d, x.Pointer, ld, xNorms.Pointer);
    s.FillNormal(centroids.Pointer, (long)clusters * d, 7);
    s.PackRows(centroids.Pointer, clusters, d, d, packed.Pointer, ld, cNorms.Pointer);
    previous.Fill32(uint.MaxValue, s.Stream);
    void Assign() => s.Assign(x.Pointer, xNorms.Pointer, n, d, ld, packed.Pointer, cNorms.Pointer, k, ld, labels.Pointer, distances.Pointer, false, b);
    unsafe void Enqueue(bool withAssign)
    {
        if (withAssign)
            Assign();
        scalars.Clear(s.Stream);
        s.CountLabelChanges(labels.Pointer, previous.Pointer, scalars.At(b), rows);
        var partial = new KernelArgs().Add(distances.Pointer).Add(0UL).Add(partials.Pointer).Add((long)n);
        s.Kernels.Get("segmented_sum", "segmented_sum_partial").Launch(s.Stream, (64, b, 1), 256, 0, partial);
        var final = new KernelArgs().Add(partials.Pointer).Add(scalars.Pointer).Add(64);
        s.Kernels.Get("segmented_sum", "segmented_sum_final").Launch(s.Stream, (b, 1, 1), 256, 0, final);
        counts.Clear(s.Stream);
        s.Histogram(labels.Pointer, counts.Pointer, rows, k, b);
        s.ExclusiveScan(counts.Pointer, offsets.Pointer, cursor.Pointer, clusters);
        s.Scatter(labels.Pointer, cursor.Pointer, sorted.Pointer, rows, k, b);
        sums.Clear(s.Stream);
        s.SegmentSums(x.Pointer, 0, labels.Pointer, sorted.Pointer, rows, k, d, ld, sums.Pointer, null, b);
        s.FinalizeCentroids(sums.Pointer, counts.Pointer, 0, centroids.Pointer, shift.Pointer, weightOut.Pointer, clusters, d, null, 1.0, false);
        s.PackRows(centroids.Pointer, clusters, d, d, packed.Pointer, ld, cNorms.Pointer);
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync(hostWeights.Pointer, weightOut.Pointer, (nuint)(clusters * sizeof(double)), s.Stream.Handle));
    }
    // As CudaDataBinding.Step: the step is captured once into a graph and replayed.
    using var graph = CudaGraph.Capture(s.Stream, () => Enqueue(true));
    void Step()
    {
        graph.Launch(s.Stream);
        s.Stream.Synchronize();
    }
    for (int i = 0; i < 3; i++)
        Step();
    var steps = new List<double>();
    for (int i = 0; i < iterations; i++)
    {
        var clock = Stopwatch.StartNew();
        Step();
        steps.Add(clock.Elapsed.TotalMilliseconds);
    }
    return (Median(steps), TimeEvents(s, iterations, Assign), TimeEvents(s, iterations, () => Enqueue(false)));
}

static double TimeEvents(CudaSession s, int iterations, Action enqueue)
{
    using var start = new CudaEvent(s.Context);
    using var end = new CudaEvent(s.Context);
    for (int i = 0; i < 3; i++)
        enqueue();
    s.Stream.Synchronize();
    var times = new List<double>();
    for (int i = 0; i < iterations; i++)
    {
        start.Record(s.Stream);
        enqueue();
        end.Record(s.Stream);
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
