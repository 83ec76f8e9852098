using System.Diagnostics;
using System.Globalization;
using FlashKMeans;
using FlashKMeans.Clustering;

/// <summary>
/// The ILGPU backend (FlashKMeans.ILGPU) through ILGPU's CUDA accelerator against the CUDA PTX backend, in float32, on
/// one shape: whole fits of a fixed number of steps from the same rows and the same start, through the public API from
/// host rows, each side twice in alternation. Reported: the median step (the engine's statistics: assignment, update and
/// everything the step reads back) and the whole fit with its validation and upload.
/// </summary>
internal static class IlgpuBench
{
    public static void Run(int n, int k, int d, int steps)
    {
        var random = new Random(7);
        var rows = new float[(long)n * d];
        for (long i = 0; i < rows.Length; i++)
            rows[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        var start = new float[k * d];
        for (int c = 0; c < k; c++)
            rows.AsSpan((int)((long)c * (n / k) * d), d).CopyTo(start.AsSpan(c * d, d));
        Console.WriteLine($"# ILGPU against the PTX backend, float32, N = {n:N0}, K = {k:N0}, d = {d}, {steps} steps from the same rows; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine("| backend | round | trained on | median step ms | whole fit ms | inertia |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        KMeansModel Fit(ComputeDevice device, int iterations) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = device, Precision = ComputePrecision.Float32, Initialization = KMeansInitialization.Explicit,
            InitialCentroids = start, MaximumNumberOfIterations = iterations, OptimizationTolerance = 0,
        }).Fit(rows, d);
        foreach (var device in new[] { ComputeDevice.Ilgpu, ComputeDevice.Cuda })
            Fit(device, 2);  // compiles the kernels and warms the allocators
        for (int round = 0; round < 2; round++)
        {
            foreach (var device in round == 0 ? new[] { ComputeDevice.Ilgpu, ComputeDevice.Cuda } : new[] { ComputeDevice.Cuda, ComputeDevice.Ilgpu })
            {
                var clock = Stopwatch.StartNew();
                var model = Fit(device, steps);
                double whole = clock.Elapsed.TotalMilliseconds;
                var stepTimes = model.Statistics.Select(s => s.StepTime.TotalMilliseconds).Order().ToArray();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {device} | {round} | {model.TrainedOn} | {stepTimes[stepTimes.Length / 2]:F2} | {whole:F1} | {model.Inertia:G9} |"));
            }
        }
    }
}
