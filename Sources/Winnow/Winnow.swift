@_exported import WinnowKernels
@_exported import WinnowCore
@_exported import WinnowNN
@_exported import WinnowCompression
