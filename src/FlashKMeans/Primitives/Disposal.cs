namespace FlashKMeans.Primitives;

/// <summary>Freeing everything an object owns, even when freeing some of it fails.</summary>
internal static class Disposal
{
    /// <summary>
    /// Disposes <paramref name="owned"/> last first (later resources may depend on earlier ones); a failure that
    /// <paramref name="collect"/> accepts is added to <paramref name="errors"/> and the rest are still freed, any other
    /// propagates. The list itself is left as it is.
    /// </summary>
    public static void DisposeInReverse<T>(IReadOnlyList<T> owned, Func<Exception, bool> collect, ref List<Exception>? errors)
        where T : IDisposable
    {
        for (int i = owned.Count - 1; i >= 0; i--)
        {
            try
            {
                owned[i].Dispose();
            }
            catch (Exception e) when (collect(e))
            {
                (errors ??= []).Add(e);
            }
        }
    }
}
