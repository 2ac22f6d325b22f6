// Follows transformers 5.23 CLIPImageProcessorPil (models/clip/image_processing_pil_clip.py with the PilBackend
// helpers in image_processing_backends.py and image_transforms.py), the processor CLIPImageProcessor falls back to
// without torchvision: convert to RGB; resize the shortest edge to S keeping the aspect ratio (long edge
// `int(S * long / short)`) with Pillow's BICUBIC on the 8-bit image; centre crop S×S at offset
// `(resized - S) // 2`; rescale by 1/255 in float64, then float32; normalise `(x - mean) / std` in float32;
// channels first. No deviation: the crop is taken before resampling finishes (only kept pixels are computed), which
// leaves every value unchanged, and the last three steps are one exact 256-entry table per channel.

/// Turns a BGR frame of any size and aspect ratio into CLIP's normalised RGB pixel tensor [3, S, S].
public struct ImagePreprocessor: Sendable {
    public static let clipMean: (Float, Float, Float) = (0.48145466, 0.4578275, 0.40821073)
    public static let clipStd: (Float, Float, Float) = (0.26862954, 0.26130258, 0.27577711)

    /// S: the length the shortest side is resized to, and the side of the square crop.
    public let size: Int
    public let mean: (Float, Float, Float)
    public let std: (Float, Float, Float)
    /// `table[channel * 256 + value]`: the tensor value of 8-bit sample `value` in RGB channel `channel`.
    private let table: [Float]

    public init(size: Int, mean: (Float, Float, Float) = clipMean, std: (Float, Float, Float) = clipStd) {
        precondition(size > 0, "preprocessing size must be positive, got \(size)")
        self.size = size
        self.mean = mean
        self.std = std
        let means = [mean.0, mean.1, mean.2]
        let stds = [std.0, std.1, std.2]
        var table = [Float](repeating: 0, count: 3 * 256)
        for channel in 0..<3 {
            for value in 0..<256 {
                let rescaled = Float(Double(value) * (1.0 / 255.0))
                table[channel * 256 + value] = (rescaled - means[channel]) / stds[channel]
            }
        }
        self.table = table
    }

    /// Number of floats `preprocess` writes: 3 * S * S.
    public var outputCount: Int { 3 * size * size }

    /// The size (width, height) an image is resized to before the crop: the shortest side becomes S and the
    /// other `int(S * long / short)`.
    public static func resizedSize(width: Int, height: Int, shortestEdge: Int) -> (width: Int, height: Int) {
        precondition(width > 0 && height > 0, "image size must be positive, got \(width)x\(height)")
        let (short, long) = width <= height ? (width, height) : (height, width)
        let newLong = Int(Double(shortestEdge * long) / Double(short))
        return width <= height ? (shortestEdge, newLong) : (newLong, shortestEdge)
    }

    /// Writes 3*S*S floats (channels R, G, B; then rows; then columns) into `output`.
    ///
    /// `bgr` holds `height` rows of `width` pixels (blue, green, red bytes), rows `rowBytes` apart. Allocates only
    /// when `workspace` last saw another input size or S.
    public func preprocess(
        bgr: UnsafePointer<UInt8>, width: Int, height: Int, rowBytes: Int,
        into output: UnsafeMutablePointer<Float>, workspace: PreprocessWorkspace
    ) {
        precondition(width > 0 && height > 0, "image size must be positive, got \(width)x\(height)")
        precondition(rowBytes >= width * 3, "rowBytes \(rowBytes) is less than 3 * width \(width)")
        let plan = workspace.prepare(width: width, height: height, size: size)
        let side = size
        let pixels = workspace.pixels
        let staging = workspace.staging
        // Both passes keep the BGR byte order; the table lookup below reorders to RGB.
        if plan.verticalFirst {
            let columns = plan.columns.inputs
            resampleColumns(
                bgr + columns.lowerBound * 3, sourceRowStride: rowBytes, firstRow: 0, byteCount: columns.count * 3,
                axis: plan.rows, into: staging, destinationRowStride: columns.count * 3)
            resampleRows(
                staging, sourceRowStride: columns.count * 3, firstColumn: columns.lowerBound, rowCount: side,
                axis: plan.columns, into: pixels, destinationRowStride: side * 3)
        } else {
            let rows = plan.rows.inputs
            resampleRows(
                bgr + rows.lowerBound * rowBytes, sourceRowStride: rowBytes, firstColumn: 0, rowCount: rows.count,
                axis: plan.columns, into: staging, destinationRowStride: side * 3)
            resampleColumns(
                staging, sourceRowStride: side * 3, firstRow: rows.lowerBound, byteCount: side * 3,
                axis: plan.rows, into: pixels, destinationRowStride: side * 3)
        }
        table.withUnsafeBufferPointer { table in
            for channel in 0..<3 {
                let values = table.baseAddress! + channel * 256
                let samples = pixels + (2 - channel)
                let floats = output + channel * side * side
                for index in 0..<(side * side) {
                    floats[index] = values[Int(samples[index * 3])]
                }
            }
        }
    }

    /// Convenience for one-off use: returns the 3*S*S tensor of a tightly packed BGR image (allocates).
    public func preprocess(bgr: [UInt8], width: Int, height: Int) -> [Float] {
        precondition(bgr.count == width * height * 3, "BGR buffer of \(bgr.count) bytes is not \(width)x\(height)x3")
        let workspace = PreprocessWorkspace()
        return [Float](unsafeUninitializedCapacity: outputCount) { buffer, initialized in
            bgr.withUnsafeBufferPointer { bgr in
                preprocess(
                    bgr: bgr.baseAddress!, width: width, height: height, rowBytes: width * 3,
                    into: buffer.baseAddress!, workspace: workspace)
            }
            initialized = outputCount
        }
    }
}

/// What `ImagePreprocessor` computes for one input size and S: the resize geometry, the crop and the weights.
struct PreprocessPlan {
    let inputWidth: Int
    let inputHeight: Int
    let size: Int
    let resizedWidth: Int
    let resizedHeight: Int
    /// Horizontal weights for the kept columns `left..<left + S` of the resized image.
    let columns: ResampleAxis
    /// Vertical weights for the kept rows `top..<top + S` of the resized image.
    let rows: ResampleAxis
    /// Pillow's pass order: vertical first when the height shrinks by more than twice as many pixels as the width.
    let verticalFirst: Bool

    init(inputWidth: Int, inputHeight: Int, size: Int) {
        self.inputWidth = inputWidth
        self.inputHeight = inputHeight
        self.size = size
        let resized = ImagePreprocessor.resizedSize(width: inputWidth, height: inputHeight, shortestEdge: size)
        resizedWidth = resized.width
        resizedHeight = resized.height
        let left = (resized.width - size) / 2
        let top = (resized.height - size) / 2
        columns = ResampleAxis(inputCount: inputWidth, outputCount: resized.width, kept: left..<(left + size))
        rows = ResampleAxis(inputCount: inputHeight, outputCount: resized.height, kept: top..<(top + size))
        let heightLoss = inputHeight - resized.height
        verticalFirst = heightLoss > 0 && heightLoss > (inputWidth - resized.width) * 2
    }

    /// Bytes of the intermediate image between the two passes, all three channels.
    var stagingCount: Int {
        verticalFirst ? 3 * size * columns.inputs.count : 3 * rows.inputs.count * size
    }
}

/// Scratch memory and cached resampling weights for `ImagePreprocessor`, reused from call to call.
///
/// Owned by one thread at a time (not `Sendable`). Keeps the plan for the last input size; a new size or S
/// recomputes it and grows the buffers if needed.
public final class PreprocessWorkspace {
    private(set) var plan: PreprocessPlan?
    /// The cropped, resized 8-bit image, BGR pixels.
    private(set) var pixels: UnsafeMutablePointer<UInt8>
    private var pixelCapacity = 0
    /// The image between the two resampling passes.
    private(set) var staging: UnsafeMutablePointer<UInt8>
    private var stagingCapacity = 0

    public init() {
        pixels = .allocate(capacity: 0)
        staging = .allocate(capacity: 0)
    }

    deinit {
        pixels.deallocate()
        staging.deallocate()
    }

    /// Returns the plan for this input size and S, computing it and growing the buffers when it changed.
    func prepare(width: Int, height: Int, size: Int) -> PreprocessPlan {
        if let plan, plan.inputWidth == width, plan.inputHeight == height, plan.size == size {
            return plan
        }
        let plan = PreprocessPlan(inputWidth: width, inputHeight: height, size: size)
        if pixelCapacity < 3 * size * size {
            pixelCapacity = 3 * size * size
            pixels.deallocate()
            pixels = .allocate(capacity: pixelCapacity)
        }
        if stagingCapacity < plan.stagingCount {
            stagingCapacity = plan.stagingCount
            staging.deallocate()
            staging = .allocate(capacity: stagingCapacity)
        }
        self.plan = plan
        return plan
    }
}
