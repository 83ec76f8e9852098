using FlashKMeans.Backends;

namespace FlashKMeans.Engine;

/// <summary>
/// Puts a stream's steps on the GPU for a while (a call, a pass, a fit): whole steps on the device where its backend can
/// (<see cref="IMiniBatchBackend"/>; the state's centroids and seen weights then live there until the lease ends), else the
/// GPU assigns each step's rows and the host updates.
/// </summary>
internal static class MiniBatchDevice
{
    /// <summary>
    /// The lease, or null where the options ask for the CPU or the state already has a device. Disposing it brings the state
    /// back to the host and frees the device.
    /// </summary>
    /// <param name="state">The stream's state.</param>
    /// <param name="options">The device, precision, update mode and batch size.</param>
    public static IDisposable? Lease(MiniBatchState state, KMeansOptions options)
    {
        if (options.Device != ComputeDevice.Cuda || state.AssignmentBackend is not null || state.DeviceSteps is not null)
            return null;
        var backend = BackendSelector.Create(options);  // Device = Cuda: the CUDA backend, or an error saying why not
        try
        {
            if (WholeStepsOnDevice(state, options) && backend is IMiniBatchBackend steps)
            {
                var stepper = steps.CreateMiniBatchStepper(state.NumberOfClusters, state.Dimension, options.MiniBatch.BatchSize,
                    normalizeCentroids: options.Distance == KMeansDistance.Cosine, state.CentroidPrecision);
                try
                {
                    state.DeviceSteps = stepper;
                }
                catch
                {
                    stepper.Dispose();
                    throw;
                }
                return new DeviceLease(state, backend, stepper);
            }
            state.AssignmentBackend = backend;
            return new DeviceLease(state, backend, null);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether whole steps can run on the device: not where the update must give the host's bits
    /// (<see cref="KMeansOptions.DeterministicUpdate"/>: the GPU then only assigns, and the host sums in row order), nor
    /// where it needs what only the host's update does (L1 medians, per-coordinate weights of missing features, learned
    /// feature weights).
    /// </summary>
    private static bool WholeStepsOnDevice(MiniBatchState state, KMeansOptions options) =>
        !options.DeterministicUpdate && state.Distance != KMeansDistance.Manhattan && state.CoordinateWeights is null && state.Relevance is null;

    private sealed class DeviceLease(MiniBatchState state, IKMeansBackend backend, IMiniBatchStepper? stepper) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                state.DeviceSteps = null;  // reads the state back
                state.AssignmentBackend = null;  // frees the steps' scorer before the backend goes
            }
            finally
            {
                try
                {
                    stepper?.Dispose();
                }
                finally
                {
                    backend.Dispose();
                }
            }
        }
    }
}
