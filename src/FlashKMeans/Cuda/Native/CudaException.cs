using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FlashKMeans.Cuda.Native;

/// <summary>A CUDA driver call failed. The message names the call, the driver's error name and its description.</summary>
public sealed class CudaException : Exception
{
    internal CudaException(int errorCode, string errorName, string message)
        : base(message)
    {
        ErrorCode = errorCode;
        ErrorName = errorName;
    }

    /// <summary>The raw CUresult value.</summary>
    public int ErrorCode { get; }

    /// <summary>The driver's name for the error, such as <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</summary>
    public string ErrorName { get; }
}

/// <summary>Turns failed <see cref="CuResult"/>s into <see cref="CudaException"/>s.</summary>
internal static class CudaCheck
{
    /// <summary>Throws when <paramref name="result"/> is not success; the message carries the failing expression.</summary>
    public static void ThrowIfFailed(CuResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CuResult.Success)
            throw Create(result, call);
    }

    internal static CudaException Create(CuResult result, string call)
    {
        string name = ErrorName(result);
        string text = ErrorText(result);
        return new CudaException((int)result, name, $"{call} failed: {name} ({(int)result}): {text}");
    }

    /// <summary>The driver's name for a result, or the number when the driver cannot say.</summary>
    public static string ErrorName(CuResult result)
    {
        try
        {
            if (CudaApi.cuGetErrorName(result, out nint p) == CuResult.Success && p != 0)
                return Marshal.PtrToStringUTF8(p) ?? result.ToString();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return $"CUresult {(int)result}";
    }

    private static string ErrorText(CuResult result)
    {
        try
        {
            if (CudaApi.cuGetErrorString(result, out nint p) == CuResult.Success && p != 0)
                return Marshal.PtrToStringUTF8(p) ?? "";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return "no description";
    }
}
