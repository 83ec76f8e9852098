using System.Diagnostics;
using System.Globalization;
using FlashKMeans;
using FlashKMeans.Backends;
using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Data;

/// <summary>
/// Where the time of small stream-learning steps goes (--stream-small): the GPU stepper alone (stage, then one launch
/// sequence of S steps and its wait), against the whole <see cref="MiniBatchKMeans"/> pass with and without the
/// reassignment, at d = 128, K = 1024, from page-locked fp16 rows.
/// </summary>
internal static unsafe class SmallStepsBench
{
    public static void Run(int stepRows, int batches)
    {
        const int d = 128, k = 1024;
        long n = (long)stepRows * batches;
        var pinned = (Half*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(n * d * 2), 4096);
        var random = new Random(7);
        for (long i = 0; i < n * d; i++)
            pinned[i] = (Half)(float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        using var context = CudaContext.Open(0);
        using var registered = new FlashKMeans.Cuda.Native.HostRegistration(context, (nint)pinned, n * d * 2);
        var source = new UnmanagedRowsBatchSource((nint)pinned, n, d, RowElementType.Float16, stepRows) { IsPageLocked = true };
        Console.WriteLine($"# small steps: {context.Name}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {batches} batches of {stepRows} x {d}, K = {k}");

        using (var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float16 }))
        using (var stepper = backend.CreateMiniBatchStepper(k, d, stepRows, false, ComputePrecision.Float32))
        {
            var centroids = new float[k * d];
            HalfPrecisionConversion.ConvertRows(source.GetRowBytes(0, k), RowElementType.Float16, k, d,
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(centroids.AsSpan()), TransferElement.Float32, d, 1);
            var seen = Enumerable.Repeat(100.0, k).ToArray();
            foreach (int sequence in new[] { 1, 4, Math.Max(1, stepper.StagingDepth / 2), stepper.StagingDepth })
            {
                stepper.Load(centroids, seen);
                var results = new MiniBatchStepResult[sequence];
                double stage = 0, step = 0;
                long at = 0;
                int steps = 0;
                for (int pass = 0; pass < 2; pass++)
                {
                    stage = step = 0;
                    steps = 0;
                    at = 0;
                    while (at + (long)sequence * stepRows <= n)
                    {
                        var clock = Stopwatch.StartNew();
                        for (int s = 0; s < sequence; s++, at += stepRows)
                            stepper.Stage(source, at, stepRows);
                        stage += clock.Elapsed.TotalSeconds;
                        clock.Restart();
                        stepper.StepStaged(1.0, results);
                        step += clock.Elapsed.TotalSeconds;
                        steps += sequence;
                    }
                }
                Console.WriteLine(FormattableString.Invariant(
                    $"RESULT small-steps what=stepper rows={stepRows} sequence={sequence} steps={steps} stage_us={stage / steps * 1e6:F1} step_us={step / steps * 1e6:F1} rows_per_s={steps * (double)stepRows / (stage + step):F0}"));
            }
        }

        foreach (double ratio in new[] { 0.01, 0.0 })
        {
            using var learner = new MiniBatchKMeans(new KMeansOptions
            {
                NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float16, Seed = 1, Initialization = KMeansInitialization.RandomRows,
                MiniBatch = new MiniBatchOptions { BatchSize = stepRows, ReassignmentRatio = ratio, InitializationSize = 3 * k },
            }, d);
            var seeding = new float[3 * k * d];
            HalfPrecisionConversion.ConvertRows(source.GetRowBytes(0, 3 * k), RowElementType.Float16, 3 * k, d,
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(seeding.AsSpan()), TransferElement.Float32, d, 1);
            learner.PartialFit(seeding);
            for (int pass = 0; pass < 2; pass++)
            {
                long reassignedBefore = learner.Snapshot().EmptyClustersReseeded;
                var clock = Stopwatch.StartNew();
                learner.PartialFit(source);
                double seconds = clock.Elapsed.TotalSeconds;
                if (pass == 1)
                    Console.WriteLine(FormattableString.Invariant(
                        $"RESULT small-steps what=pass ratio={ratio} rows={n} seconds={seconds:F4} rows_per_s={n / seconds:F0} step_us={seconds / batches * 1e6:F1} reassigned={learner.Snapshot().EmptyClustersReseeded - reassignedBefore}"));
            }
        }
    }
}
