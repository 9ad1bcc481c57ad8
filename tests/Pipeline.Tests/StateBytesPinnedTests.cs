using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using InputPipeline.Checkpointing.Testing;
using InputPipeline.Checkpointing.TestSupport;
using static InputPipeline.Checkpointing.Pipeline.Tests.PipelineTestKit;

namespace InputPipeline.Checkpointing.Pipeline.Tests;

/// <summary>
/// The saved bytes of every operator and source, pinned as SHA-256 hashes recorded before the operators were split into
/// files and before the parallel operators existed: a pipeline built as before saves exactly the bytes it saved before,
/// so checkpoints written by the previous version restore, and the previous version restores ours.
/// </summary>
public sealed class StateBytesPinnedTests : IDisposable
{
    private readonly TempDirectory _folder = new("pipeline-pinned");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public Task MapFilterTakeSkipShardBatch_SaveThePinnedBytes() =>
        AssertStateHashesAsync(
            () => Dataset.Range(0, 500).Map(x => x * 3, "triple").Filter(x => x % 7 != 2).Take(300).Skip(11).Shard(2, 1).Batch(5),
            [0, 3, 20, 28],
            [
                "5D6A2F23E53B3B3D03DDAED4C506FBCBACC3A4E1F4CE951EBBF6798E2A87D17D",
                "5BDA68E96AF4DD2792E5CDD468736F1FFB2008223F5DE6EE328F6189ADA1EE4B",
                "07CC89417AD95785F76E0AA0BF0EAC6E3D68E31DDB6BA20FC6B4DB480281C50C",
                "73DE9756FC1056357ECE40A88418DBA4E150064A1C6ECBB384B1B50ECD8852B1",
            ]);

    [Fact]
    public Task ShuffleRepeatOfStrings_SaveThePinnedBytes() =>
        AssertStateHashesAsync(
            () => Dataset.FromList(["a", "bb", "ccc", "dddd", "e", "ff", "ggg"]).Shuffle(4, 9).Repeat(3).Batch(2, dropRemainder: true),
            [0, 1, 4, 10],
            [
                "0EAD21412E05DE097C6F7A189BA7BD8A2B42530A4361D893F512025D2AECE7F5",
                "C41180AA0F103AD29A387FC2727C782830C73023B838D0D4971EF2C53FC85E94",
                "7DF76785B4D89C6AFE8F207FB5F10E08B57A752A6073320289050EA77BFABC1A",
                "CE190F11574060040C943EFE1BEBFD8D9622B68805F2FC0612D29A2F1AE68531",
            ]);

    [Fact]
    public Task InterleaveZipConcatenate_SaveThePinnedBytes() =>
        AssertStateHashesAsync(
            () => Dataset.Range(1, 9)
                .Interleave(x => Dataset.Range(x * 100, (x * 100) + x).Shuffle(3, (ulong)x), cycleLength: 3, blockLength: 2, name: "shards")
                .Zip(Dataset.Range(0, 1000).Map(x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .Map(p => p.Item1 + p.Item2.Length)
                .Concatenate(Dataset.Range(-5, 0)),
            [0, 1, 7, 30, 41],
            [
                "E3BD88DB6F8DABCACBE569A40181BA8828680E736E0E01CCE5FB5B704B9C6315",
                "DFC86FD33BE4065D24D66FBDA3678A465C395550AD50B3B5B5540BC22C884ACC",
                "8495A8A03D4E69B9BF46859370E4CAC2608231F190610A09A5E209903AA99D44",
                "E3B0308D8E0D5881A9837729D38B285FFE5851605B9B3DCC9DCF318493844C4C",
                "3994C6D8BF053849FB8D1315AEDDF868F83DC05C5268D2D892C84AB1FC60EB6B",
            ]);

    [Fact]
    public Task IndexedSource_SavesThePinnedBytes() =>
        AssertStateHashesAsync(
            () => Dataset.Indexed(RandomAccessSource.FromList([.. Enumerable.Range(0, 50).Select(i => (long)i)], "pinned"), seed: 3, shardCount: 2, shardIndex: 1, epochs: 2),
            [0, 9, 25],
            [
                "871D39E8E1F4BD8390BE60F59D25A0A7D5D57118C4EDC211C00607B3FF7B6A77",
                "E26499C4353317E508006043A594856AACB7BE852B264921560D060F458B5C35",
                "2760EEC8FACD6267872B37A40220B87124F43D2C9DAA8CCACFB6DC1AF29E3E2C",
            ]);

    [Fact]
    public async Task PrefetchDrained_SavesThePinnedBytes()
    {
        // Once the input is exhausted the prefetch buffer is empty whatever the timing, so its bytes are fixed.
        await AssertStateHashesAsync(() => Dataset.Range(0, 6).Prefetch(3), [0], ["140ABF86D6CA122DFC7EC8422B61170790A26C6EBADF3CB33C8D8E53D4F313B8"]);
        await AssertStateHashesAsync(() => Dataset.Range(0, 6).Prefetch(3), [6], ["8029F12C24463C75909672D58669F3813EA9880B0199AB268C6B62DD15AFB9DD"]);
    }

    [Fact]
    public async Task FileSources_SaveThePinnedBodies()
    {
        // The header names the files by path (a temp folder here), so the body after it is what is pinned.
        string text = _folder.Combine("lines.txt");
        await File.WriteAllTextAsync(text, "\uFEFFone\r\ntwo\nthree\n\nfive", new UTF8Encoding(false));
        string records = _folder.Combine("values.rec");
        RecordFileWriter.WriteAll(records, Enumerable.Range(0, 9).Select(i => Encoding.UTF8.GetBytes(new string('x', i))));
        await AssertStateHashesAsync(() => Dataset.TextLines(text), [0, 2, 5], [
            "E1D5641567334169739E21E673CA8FA07AD31D40A33CD77F74663E57BC5D7FFD",
            "C99DFAF6072241E8FB58D1BA47D69081EA77C6BBE1323EB41A0F85A99214D36D",
            "9B3A87DFBFF1D3543B50E95B65C2C14C87471EEDB8B48705FFC6965CEBE39581",
        ], bodyOnly: true);
        await AssertStateHashesAsync(() => Dataset.Records([records, records]), [0, 4, 12, 18], [
            "E1D5641567334169739E21E673CA8FA07AD31D40A33CD77F74663E57BC5D7FFD",
            "6542246C2496BAD19440BC85E1F7670EC290D07360FD7CD3A5D9C9015523D937",
            "4449E4EEE254C415BBF1D97F7762E88C0113E25DBCC82E0B42D0427A45CA8F73",
            "05A538E55530DBBD163F3B4ADBA13B00C686349CC75DF882A94D7FAEFB3EBC27",
        ], bodyOnly: true);
    }

    [Fact]
    public async Task StoreObjects_SaveThePinnedBytes()
    {
        var store = new InMemoryInputStateStore();
        await store.WriteAsync("data/a", new MemoryStream(RecordBytes(3)), WriteCondition.None);
        await store.WriteAsync("data/b", new MemoryStream(RecordBytes(4)), WriteCondition.None);
        await AssertStateHashesAsync(() => Dataset.StoreObjects(store, "data/"), [0, 2, 5, 7], [
            "1AE2692FDC0616D87A074F71F3EE276BF98D343D0A7E54120C6837E3E2545824",
            "4380A33A8E9B0FBF6BFEF574A1D8BF0B98113334D85E32A36A27AF5375ECA54E",
            "63DBF9F6C45543708BCBBFEFAE700879C23BC5C25AF11B34EDE68E9E897C162F",
            "E2A8BBE5272366D5BBA9445C196E3FE1F29B5E32A1455AFA8CCD4E8D761B5633",
        ]);
        await AssertStateHashesAsync(() => Dataset.StoreObjects(store, "data/", StoreObjectFormat.WholeObject), [0, 1, 2], [
            "C8442ADC56857FBC20C94B2A7F1342D6D41E179084F466AF60481C386E522EF0",
            "AA3AB366B2BAF3C3488FE51ACD1C3AC1C371F5DDC219F5D00C3C4195ED040B43",
            "179F650E4CD21326FE133B0F5541AB6892588A1D7FEA36EE285B5F7F8215D520",
        ]);

        static byte[] RecordBytes(int count)
        {
            var bytes = new MemoryStream();
            for (int i = 0; i < count; i++)
            {
                byte[] length = new byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(length, i + 1);
                bytes.Write(length);
                bytes.Write(Enumerable.Repeat((byte)(i + 65), i + 1).ToArray());
            }

            return bytes.ToArray();
        }
    }

    private static async Task AssertStateHashesAsync<T>(Func<Dataset<T>> build, int[] points, string[] expected, bool bodyOnly = false)
    {
        await using ICheckpointableIterator<T> iterator = build().CreateIterator();
        int read = 0;
        var actual = new List<string>();
        foreach (int point in points)
        {
            for (; read < point; read++)
            {
                Assert.True(await iterator.MoveNextAsync());
            }

            byte[] state = await SaveAsync(iterator);
            if (bodyOnly)
            {
                int headerSize = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(8));
                state = state[(12 + headerSize + 4)..];
            }

            actual.Add(Convert.ToHexString(SHA256.HashData(state)));
        }

        Assert.Equal(expected, actual);
    }
}
