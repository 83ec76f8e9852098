using System.Reflection;
using FlashKMeans.Backends;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Primitives;

namespace FlashKMeans.Cuda;

/// <summary>
/// The kernel modules, loaded from the PTX embedded in this assembly. For each kernel file the PTX
/// built for the highest architecture not above the device's compute capability is JIT-compiled by the
/// driver; a file with no such PTX is simply absent (the tensor-core file needs sm_80). Kernels may be looked up
/// from several threads.
/// </summary>
internal sealed class CudaKernels : IDisposable
{
    /// <summary>The kernel source files, one concept each, as named under Cuda/Kernels.</summary>
    internal static readonly string[] Files =
    [
        "flash_assign_ws", "flash_assign_wgmma", "flash_assign_mma", "flash_assign_exact", "all_distances", "row_pack",
        "label_sort", "moved_rows", "centroid_update", "segmented_sum", "label_changes", "assign_l1", "flash_topk", "flash_topk_ws",
    ];

    internal const string ResourcePrefix = "FlashKMeans.Cuda.Kernels.";

    private readonly Dictionary<string, CudaModule> _modules = new();
    private readonly Dictionary<string, CudaFunction> _functions = new();
    private readonly List<string> _skipped = [];
    private readonly CudaContext _context;
    private readonly string? _overrideDirectory;

    // Files loaded on first use, with their selected resource: the top-k kernels, which only prototype predictions
    // launch, are megabytes of PTX that the driver would otherwise compile for every session.
    private readonly Dictionary<string, string> _deferred = new();

    /// <summary>Files loaded on first use (<see cref="Has"/> or <see cref="Get"/>) rather than with the others.</summary>
    internal static bool IsLoadedOnUse(string file) => file is "flash_topk" or "flash_topk_ws";

    public CudaKernels(CudaContext context)
    {
        _context = context;
        var names = AvailableResources();
        _overrideDirectory = Environment.GetEnvironmentVariable(PtxOverrideVariable);
        try
        {
            foreach (string file in Files)
            {
                string? resource = SelectPtx(file, context.ComputeCapability, names);
                if (resource is null)
                    continue;
                if (IsLoadedOnUse(file))
                    _deferred[file] = resource;
                else
                    Load(file, resource);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private void Load(string file, string resource)
    {
        var module = LoadOptional(file, resource, r => CudaModule.Load(_context, ReadPtx(r, _overrideDirectory), r), out string? reason);
        if (module is not null)
            _modules[file] = module;
        else
            _skipped.Add(reason!);
    }

    // The module of file, loading a deferred one now; null where it has no PTX for this device or the driver refused it.
    private CudaModule? Module(string file)
    {
        lock (_functions)
        {
            if (_deferred.Remove(file, out string? resource))
            {
                _context.MakeCurrent();
                Load(file, resource);
            }
            return _modules.GetValueOrDefault(file);
        }
    }

    /// <summary>Whether the tensor-core assignment kernels are loaded (compute capability 8.0 or later).</summary>
    public bool HasTensorCores => _modules.ContainsKey("flash_assign_mma");

    /// <summary>Whether the Hopper wgmma assignment kernels are loaded (exactly compute capability 9.0).</summary>
    public bool HasWgmma => _modules.ContainsKey("flash_assign_wgmma");

    /// <summary>Whether the warp-specialised Hopper assignment kernels are loaded (exactly compute capability 9.0).</summary>
    public bool HasWarpSpecialised => _modules.ContainsKey("flash_assign_ws");

    /// <summary>Kernel files that exist only as Hopper-specific (sm90a) PTX.</summary>
    internal static bool IsHopperOnly(string file) => file is "flash_assign_wgmma" or "flash_assign_ws" or "flash_topk_ws";

    /// <summary>Whether the file runs on tensor cores through mma.sync, so that it has PTX for sm_80 and later only.</summary>
    internal static bool IsTensorCoreOnly(string file) => file is "flash_assign_mma" or "flash_topk";

    /// <summary>Whether <paramref name="file"/>'s module is loaded (a file loaded on use is loaded now).</summary>
    public bool Has(string file) => Module(file) is not null;

    /// <summary>
    /// Why optional modules were left out: the Hopper-only files are built by nvcc 13 (PTX ISA 9.0), which a
    /// driver older than CUDA 13 cannot JIT-compile. The session then assigns with the mma.sync kernels.
    /// </summary>
    public IReadOnlyList<string> Skipped => _skipped;

    /// <summary>
    /// Loads <paramref name="resource"/> for <paramref name="file"/>. A Hopper-only file whose PTX the driver
    /// rejects as too new or invalid for it is optional: null, with the reason. Any other failure, and any
    /// failure of a required file, is thrown.
    /// </summary>
    internal static T? LoadOptional<T>(string file, string resource, Func<string, T> load, out string? reason) where T : class
    {
        reason = null;
        try
        {
            return load(resource);
        }
        catch (CudaException e) when (IsHopperOnly(file)
            && e.ErrorCode is (int)CuResult.UnsupportedPtxVersion or (int)CuResult.InvalidPtx)
        {
            reason = $"{resource} not loaded ({e.ErrorName}; it needs a CUDA 13 driver): assigning without its kernels";
            return null;
        }
    }

    /// <summary>A kernel by file and name; cached.</summary>
    public CudaFunction Get(string file, string kernel)
    {
        string key = file + "/" + kernel;
        // Sessions on several threads share one set of kernels (CudaSharedDevice).
        lock (_functions)
        {
            if (_functions.TryGetValue(key, out var function))
                return function;
            if (Module(file) is not { } module)
                throw new NotSupportedException($"No PTX of {file} runs on {_context.Name} (compute capability {_context.ComputeCapability / 10}.{_context.ComputeCapability % 10}).");
            function = module.GetFunction(kernel);
            _functions[key] = function;
            return function;
        }
    }

    /// <summary>Names of the embedded PTX resources.</summary>
    internal static IReadOnlyList<string> AvailableResources() =>
        typeof(CudaKernels).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".ptx", StringComparison.Ordinal))
            .ToArray();

    /// <summary>
    /// The resource of <paramref name="file"/> built for the highest sm not above
    /// <paramref name="computeCapability"/> (major·10 + minor), or null when none fits. An
    /// architecture-specific build (such as sm90a) fits only its own architecture, and is preferred there.
    /// </summary>
    internal static string? SelectPtx(string file, int computeCapability, IEnumerable<string> resources)
    {
        string prefix = ResourcePrefix + file + ".sm";
        string? best = null;
        int bestArch = -1;
        foreach (string name in resources)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            string arch = name[prefix.Length..^".ptx".Length];
            bool specific = arch.EndsWith('a');
            if (!int.TryParse(specific ? arch[..^1] : arch, out int sm) || sm > computeCapability)
                continue;
            if (specific && sm != computeCapability)
                continue;
            // Rank an architecture-specific build just above the portable one of the same sm.
            int rank = sm * 2 + (specific ? 1 : 0);
            if (rank <= bestArch)
                continue;
            sm = rank;
            best = name;
            bestArch = sm;
        }
        return best;
    }

    /// <summary>
    /// Environment variable naming a folder whose PTX files (the resource names without the prefix, as
    /// build-ptx.sh writes them) replace the embedded ones: for trying kernels on a GPU machine without
    /// publishing again. Unset in normal use.
    /// </summary>
    internal const string PtxOverrideVariable = "FLASHKMEANS_PTX_DIR";

    /// <summary>The PTX of <paramref name="resource"/>: from <paramref name="overrideDirectory"/> where it holds that file, else embedded.</summary>
    internal static byte[] ReadPtx(string resource, string? overrideDirectory)
    {
        if (!string.IsNullOrEmpty(overrideDirectory))
        {
            string path = Path.Combine(overrideDirectory, resource[ResourcePrefix.Length..]);
            if (File.Exists(path))
                return File.ReadAllBytes(path);
        }
        return ReadResource(resource);
    }

    internal static byte[] ReadResource(string name)
    {
        using var stream = typeof(CudaKernels).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded PTX {name} is missing.");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    public void Dispose()
    {
        List<Exception>? errors = null;
        Disposal.DisposeInReverse([.. _modules.Values], e => e is CudaException, ref errors);
        _modules.Clear();
        _functions.Clear();
        if (errors is not null)
            throw new AggregateException("Unloading CUDA modules failed.", errors);
    }
}
