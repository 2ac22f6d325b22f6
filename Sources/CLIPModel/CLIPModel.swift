// A CLIP model (vision and text encoders) on the CPU, giving the image and text features of transformers 5.23
// CLIPModel.get_image_features / get_text_features (projected, not normalised). Deviations: see Encoders.swift,
// Transformer.swift and Kernels.swift (all rounding-level).
import Foundation

/// A loaded CLIP model. Not `Sendable`: its activation buffers are reused by every call, so one thread owns it.
public final class CLIPModel {
    public let configuration: CLIPConfiguration
    /// The folder the model was loaded from.
    public let directory: URL

    /// Threads each encoding is shared among (the calling thread and `threads − 1` helpers).
    public var threads: Int { pool.threads }

    private let pool: WorkerPool
    private let vision: VisionEncoder
    private let text: TextEncoder
    private let logitScaleValue: Float
    private let clock = StageClock()

    /// The default thread count: every core this process may use.
    public static var defaultThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// The arithmetic of the image encoder's patch embedding and blocks (the text encoder is always fp32).
    public let precision: Precision
    /// The instructions of the integer products (`QuantizedKernel.selected()` for an int16 or int8 model).
    public let integerKernel: QuantizedKernel
    /// The instructions of the fp32 products (both encoders; the image encoder's projection at every precision)
    /// and why they were chosen.
    public let floatKernel: FloatKernelChoice

    /// Loads `config.json` (or takes `configuration`, read from it already) and `model.safetensors` from
    /// `directory`, checks every size of the configuration against the file's tensor table and then every tensor
    /// (`CLIPConfigurationError`, `SafeTensorsError`, `CLIPWeightsError`), and only then packs the weights for the
    /// encoders' kernels (`precision` for the image encoder's blocks; the text encoder, which runs once per
    /// prompt, stays fp32) and sizes the activation buffers. `integerKernel` runs the integer products (default:
    /// `QuantizedKernel.selected()`, which CLIPCAM_INT8_KERNEL can set); it must be available. `floatKernel`: the
    /// fp32 kernel (default: `FloatKernel.selected()`, the CPU's best unless CLIPCAM_KERNEL names one).
    public init(
        directory: URL, configuration: CLIPConfiguration? = nil, threads: Int = CLIPModel.defaultThreads,
        precision: Precision = .fp32, integerKernel: QuantizedKernel? = nil, floatKernel: FloatKernelChoice? = nil
    ) throws {
        // Checked at every precision, as CLIPCAM_KERNEL is: a misspelt setting is an error, not a silent no-op.
        let integerKernel = try integerKernel ?? QuantizedKernel.selected()
        if let reason = integerKernel.unavailableReason {
            throw QuantizedKernelError(message: "the \(integerKernel.rawValue) integer kernel cannot run: \(reason)")
        }
        let floatKernel = try floatKernel ?? FloatKernel.selected()
        if let reason = floatKernel.kernel.unavailability() {
            throw FloatKernelError(message: "the fp32 kernel \(floatKernel.kernel.rawValue) cannot run here: \(reason)")
        }
        let configuration =
            try configuration ?? CLIPConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        // Before packing copies every weight: a model that cannot fit is an error, not an allocation that fails.
        let weightCount = file.tensors.values.reduce(0) { $0 + ($1.dtype.isWeightFloat ? $1.elementCount : 0) }
        // 4 bytes a weight bounds every precision (the integer paths keep the image encoder's weights smaller).
        try MemoryCheck.check(weightCount: weightCount, file: file.url.path)
        let weights = try CLIPWeights(file: file, configuration: configuration)
        self.configuration = configuration
        self.directory = directory
        self.precision = precision
        self.integerKernel = integerKernel
        self.floatKernel = floatKernel
        let pool = WorkerPool(threads: threads)
        self.pool = pool
        vision = VisionEncoder(
            weights: weights.vision, projection: weights.visualProjection, config: configuration.vision, pool: pool,
            precision: precision, floatKernel: floatKernel.kernel, kernel: integerKernel)
        text = TextEncoder(
            weights: weights.text, projection: weights.textProjection, config: configuration.text, pool: pool,
            floatKernel: floatKernel.kernel)
        logitScaleValue = weights.logitScale.pointer[0]
        // The encoders work on packed copies; the file's pages that packing read need not stay in this process's
        // memory (the few tensors used as they are, such as embeddings and LayerNorm weights, fault back in).
        file.releaseResidentPages()
    }

    /// Checks `directory`'s model.safetensors against `configuration` as `init` does (every size, then every
    /// tensor's name, shape and dtype) without packing anything: for checking a model folder before it is used.
    public static func verifyWeights(directory: URL, configuration: CLIPConfiguration) throws {
        let file = try SafeTensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        try CLIPWeights.verify(file, configuration)
    }

    /// The `logit_scale` weight (its natural log form; callers apply exp()).
    public var logitScale: Float { logitScaleValue }

    /// The side of the square input image, in pixels.
    public var imageSize: Int { configuration.vision.imageSize }

    /// The length of image and text embeddings.
    public var embeddingSize: Int { configuration.projectionDim }

    /// The text context length (maximum number of token ids).
    public var contextLength: Int { configuration.text.maxPositionEmbeddings }

    /// Encodes one image. `pixels`: 3 × S × S floats, channel-major, already normalised (S = `imageSize`);
    /// `embedding`: room for `embeddingSize` floats, receiving the projected, not normalised, vector.
    /// Allocates nothing.
    public func encodeImage(pixels: UnsafePointer<Float>, into embedding: UnsafeMutablePointer<Float>) {
        vision.encode(pixels: pixels, into: embedding)
    }

    /// `encodeImage(pixels:into:)`, also returning the seconds spent in each stage of it.
    public func encodeImageTimed(
        pixels: UnsafePointer<Float>, into embedding: UnsafeMutablePointer<Float>
    ) -> [EncoderStage: Double] {
        clock.reset()
        vision.encode(pixels: pixels, into: embedding, clock: clock)
        return clock.byStage
    }

    /// Encodes one image given as 3 × S × S normalised floats; returns the projected, not normalised, vector.
    public func encodeImage(_ pixels: [Float]) -> [Float] {
        let expected = 3 * imageSize * imageSize
        precondition(
            pixels.count == expected,
            "encodeImage needs 3×\(imageSize)×\(imageSize) = \(expected) floats, got \(pixels.count)")
        var embedding = [Float](repeating: 0, count: embeddingSize)
        pixels.withUnsafeBufferPointer { input in
            embedding.withUnsafeMutableBufferPointer { output in
                vision.encode(pixels: input.baseAddress!, into: output.baseAddress!)
            }
        }
        return embedding
    }

    /// Encodes token ids (start token, text, end token; padding after it is allowed and ignored) of at most
    /// `contextLength` ids from this model's vocabulary; returns the projected, not normalised, vector.
    public func encodeText(ids: [Int32]) -> [Float] {
        var embedding = [Float](repeating: 0, count: embeddingSize)
        embedding.withUnsafeMutableBufferPointer { output in
            text.encode(ids: ids, into: output.baseAddress!)
        }
        return embedding
    }

    /// `v` scaled to unit Euclidean length (a zero vector is returned unchanged).
    public static func l2Normalized(_ v: [Float]) -> [Float] {
        var squares: Double = 0
        for x in v { squares += Double(x) * Double(x) }
        guard squares > 0 else { return v }
        let inverse = Float(1 / squares.squareRoot())
        return v.map { $0 * inverse }
    }
}
