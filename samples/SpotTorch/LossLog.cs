using System.Globalization;
using System.Text;

namespace SpotTorch;

/// <summary>
/// Appends <c>&lt;step&gt; &lt;lowercase hex of the loss's 32 bits&gt;</c> per completed step (steps from 1), each line written
/// and flushed with one write, so a killed run leaves only whole lines. Does nothing when no path is set.
/// </summary>
internal sealed class LossLog : IDisposable
{
    private readonly FileStream? _file;

    public LossLog(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    public void Append(long step, float loss)
    {
        if (_file is null)
        {
            return;
        }

        _file.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{step} {BitConverter.SingleToUInt32Bits(loss):x8}\n")));
        _file.Flush();
    }

    public void Dispose() => _file?.Dispose();
}
