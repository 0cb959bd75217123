@_exported import WinnowKernels
@_exported import WinnowCore
@_exported import WinnowNN
@_exported import WinnowCompression
@_exported import WinnowRuntime
@_exported import WinnowFormats
