using Microsoft.Extensions.Options;

namespace InputPipeline.Checkpointing.AzureBlob.Internal;

/// <summary>
/// Checks the DataAnnotations of <see cref="AzureBlobStoreOptions"/>; the code is source-generated, so it needs no
/// reflection (trimming and AOT friendly). Each failure reads <c>Member: message</c>.
/// </summary>
[OptionsValidator]
internal sealed partial class AzureBlobStoreOptionsAnnotationsValidator : IValidateOptions<AzureBlobStoreOptions>
{
}
