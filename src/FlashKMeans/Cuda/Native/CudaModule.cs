using System.Diagnostics.Contracts;
using System.Text;

namespace FlashKMeans.Cuda.Native;

/// <summary>A loaded PTX module. Loading JIT-compiles the PTX for the current device; on failure the
/// exception carries the driver's JIT error log.</summary>
internal sealed unsafe class CudaModule : CudaResource
{
    private const int LogBytes = 16384;

    private CudaModule(CudaContext context, nint handle, string name)
        : base(context)
    {
        Handle = handle;
        Name = name;
    }

    public nint Handle { get; private set; }

    /// <summary>Which PTX this is, for messages.</summary>
    public string Name { get; }

    /// <summary>JIT-compiles and loads <paramref name="ptx"/> (ASCII PTX text, without a terminator).</summary>
    public static CudaModule Load(CudaContext context, ReadOnlySpan<byte> ptx, string name)
    {
        context.MakeCurrent();
        var image = new byte[ptx.Length + 1];
        ptx.CopyTo(image);
        var errorLog = new byte[LogBytes];
        var options = stackalloc CuJitOption[] { CuJitOption.ErrorLogBuffer, CuJitOption.ErrorLogBufferSizeBytes };
        CuResult result;
        nint handle;
        fixed (byte* imagePointer = image)
        fixed (byte* logPointer = errorLog)
        {
            void** values = stackalloc void*[2];
            values[0] = logPointer;
            values[1] = (void*)(nint)LogBytes;
            result = CudaApi.cuModuleLoadDataEx(out handle, imagePointer, 2, options, values);
        }
        if (result != CuResult.Success)
        {
            int length = Array.IndexOf(errorLog, (byte)0);
            string log = Encoding.UTF8.GetString(errorLog, 0, length < 0 ? errorLog.Length : length).Trim();
            var inner = CudaCheck.Create(result, $"cuModuleLoadDataEx({name})");
            throw new CudaException(inner.ErrorCode, inner.ErrorName,
                $"{inner.Message}{(log.Length > 0 ? $"\nJIT log:\n{log}" : "")}");
        }
        return new CudaModule(context, handle, name);
    }

    /// <summary>Looks up an <c>extern "C"</c> kernel.</summary>
    public CudaFunction GetFunction(string kernel)
    {
        ThrowIfReleased();
        Context.MakeCurrent();
        var result = CudaApi.cuModuleGetFunction(out nint function, Handle, kernel);
        if (result != CuResult.Success)
            throw CudaCheck.Create(result, $"cuModuleGetFunction({Name}, {kernel})");
        return new CudaFunction(function, kernel);
    }

    protected override CuResult Release()
    {
        if (Handle == 0)
            return CuResult.Success;
        var result = CudaApi.cuModuleUnload(Handle);
        Handle = 0;
        return result;
    }

    protected override string Describe() => $"module {Name}";
}

/// <summary>A kernel of a loaded module; valid while the module is.</summary>
internal sealed unsafe class CudaFunction
{
    internal CudaFunction(nint handle, string name)
    {
        Handle = handle;
        Name = name;
    }

    public nint Handle { get; }

    public string Name { get; }

    /// <summary>Raises the dynamic shared-memory limit beyond the default 48 KiB.</summary>
    public void SetMaxDynamicSharedMemory(int bytes) =>
        CudaCheck.ThrowIfFailed(CudaApi.cuFuncSetAttribute(Handle, CuFunctionAttribute.MaxDynamicSharedSizeBytes, bytes));

    /// <summary>Enqueues the kernel on <paramref name="stream"/>.</summary>
    public void Launch(CudaStream stream, (long X, long Y, long Z) grid, int block, int sharedBytes, KernelArgs args)
    {
        if (grid.X <= 0 || grid.Y <= 0 || grid.Z <= 0)
            return;  // nothing to do; the driver would reject an empty grid
        if (grid.X > int.MaxValue || grid.Y > 65535 || grid.Z > 65535)
            throw new ArgumentOutOfRangeException(nameof(grid), grid, $"Grid too large for {Name}.");
        {
            // The slots are copied to a 64-byte-aligned buffer on this frame, so that they stay put during the call
            // and a tensor map lands at the alignment its parameter declares.
            byte* buffer = stackalloc byte[KernelArgs.SlotCapacity * 8 + 64];
            ulong* values = (ulong*)(((nuint)buffer + 63) & ~(nuint)63);
            for (int i = 0; i < args.SlotCount; i++)
                values[i] = args.Slots[i];
            void** pointers = stackalloc void*[KernelArgs.Capacity];
            for (int i = 0; i < args.Count; i++)
                pointers[i] = values + args.Starts[i];
            var result = CudaApi.cuLaunchKernel(Handle, (uint)grid.X, (uint)grid.Y, (uint)grid.Z, (uint)block, 1, 1,
                (uint)sharedBytes, stream.Handle, pointers, null);
            if (result != CuResult.Success)
                throw CudaCheck.Create(result, $"cuLaunchKernel({Name})");
        }
    }
}

/// <summary>
/// Kernel arguments, each in its own 8-byte slot (the driver reads as many bytes as the parameter's
/// size from the start of the slot, which on little-endian hardware is the value), or, for a tensor map,
/// in 16 slots starting at a multiple of 64 bytes.
/// </summary>
/// <remarks>
/// A value: <see cref="Add"/> leaves this instance alone and returns a copy with one argument more, so a
/// chain is only as good as the value it ends in. Calling it as a statement (<c>args.Add(x);</c>) would drop
/// the argument; <see cref="PureAttribute"/> makes that a build error (CA1806, raised in .editorconfig). A
/// mutating Add that also returned a copy silently dropped every argument after the first of such a chain.
/// </remarks>
internal unsafe struct KernelArgs
{
    public const int Capacity = 32;
    public const int SlotCapacity = 48;
    internal fixed ulong Slots[SlotCapacity];
    internal fixed byte Starts[Capacity];

    /// <summary>Arguments so far.</summary>
    public int Count { get; private set; }

    /// <summary>Slots they take.</summary>
    public int SlotCount { get; private set; }

    /// <summary>These arguments followed by <paramref name="value"/>.</summary>
    [Pure]
    public readonly KernelArgs Add<T>(T value) where T : unmanaged
    {
        if (sizeof(T) > 8)
            throw new ArgumentException("Kernel arguments wider than 8 bytes are not supported.");
        KernelArgs next = Reserve(SlotCount, 1);
        ulong* p = next.Slots;  // next is a local: its slots do not move
        p[next.SlotCount - 1] = 0;
        *(T*)(p + next.SlotCount - 1) = value;
        return next;
    }

    /// <summary>These arguments followed by the tensor map <paramref name="map"/>, passed by value (a <c>__grid_constant__</c> parameter).</summary>
    [Pure]
    public readonly KernelArgs AddTensorMap(in CuTensorMap map)
    {
        return Place(map, alignSlots: 8);
    }

    /// <summary>
    /// These arguments followed by <paramref name="value"/>, a struct the kernel takes by value (a multiple of 8 bytes,
    /// aligned to at most 8, laid out as the CUDA compiler lays out its counterpart).
    /// </summary>
    [Pure]
    public readonly KernelArgs AddStruct<T>(in T value) where T : unmanaged
    {
        if (sizeof(T) % 8 != 0)
            throw new ArgumentException($"{typeof(T).Name} is {sizeof(T)} bytes; a struct argument must fill whole 8-byte slots.");
        return Place(value, alignSlots: 1);
    }

    // A copy with value's bytes in whole slots, the first at a multiple of alignSlots.
    private readonly KernelArgs Place<T>(in T value, int alignSlots) where T : unmanaged
    {
        int slots = sizeof(T) / 8;
        KernelArgs next = Reserve((SlotCount + alignSlots - 1) / alignSlots * alignSlots, slots);
        fixed (T* source = &value)
            Buffer.MemoryCopy(source, next.Slots + next.SlotCount - slots, sizeof(T), sizeof(T));
        return next;
    }

    /// <summary>These arguments followed by those of <paramref name="tail"/>, which holds no tensor map.</summary>
    [Pure]
    public readonly KernelArgs Concat(KernelArgs tail)
    {
        if (tail.SlotCount != tail.Count)
            throw new ArgumentException("A tail of kernel arguments with a tensor map is not supported.", nameof(tail));
        KernelArgs next = this;
        for (int i = 0; i < tail.Count; i++)
        {
            next = next.Reserve(next.SlotCount, 1);
            next.Slots[next.SlotCount - 1] = tail.Slots[i];
        }
        return next;
    }

    /// <summary>These arguments followed by the device address of <paramref name="buffer"/> (0 for none).</summary>
    [Pure]
    public readonly KernelArgs Ptr<T>(DeviceBuffer<T>? buffer) where T : unmanaged => Add(buffer?.Pointer ?? 0UL);

    // A copy with one argument more, taking slots start .. start + slots - 1.
    private readonly KernelArgs Reserve(int start, int slots)
    {
        if (Count == Capacity || start + slots > SlotCapacity)
            throw new InvalidOperationException("Too many kernel arguments.");
        KernelArgs next = this;
        next.Starts[next.Count++] = (byte)start;
        next.SlotCount = start + slots;
        return next;
    }
}
