using System.Text;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>UTF-8 lines without their line ends; a leading byte-order mark is skipped.</summary>
internal sealed class TextLinesDataset(string[] paths) : FileSequenceDataset<string>(paths, "text_lines")
{
    protected override async ValueTask<(bool Found, string Value)> ReadAsync(FileCursor cursor, string path, CancellationToken cancellationToken)
    {
        if (cursor.Position == 0 && await cursor.EnsureAsync(3, cancellationToken).ConfigureAwait(false) && cursor.Available[..3].SequenceEqual("\uFEFF"u8))
        {
            cursor.Advance(3);
        }

        int searched = 0;
        while (true)
        {
            ReadOnlySpan<byte> available = cursor.Available;
            int newline = available[searched..].IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int length = searched + newline;
                string line = Decode(available[..length]);
                cursor.Advance(length + 1);
                return (true, line);
            }

            searched = available.Length;
            if (!await cursor.ReadMoreAsync(searched + 1, cancellationToken).ConfigureAwait(false))
            {
                ReadOnlySpan<byte> rest = cursor.Available;
                if (rest.IsEmpty)
                {
                    return (false, string.Empty);
                }

                string last = Decode(rest);
                cursor.Advance(rest.Length);
                return (true, last);
            }
        }
    }

    private static string Decode(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        return Encoding.UTF8.GetString(line);
    }
}
