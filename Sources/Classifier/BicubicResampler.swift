// Follows Pillow 13.0's 8-bit resampler with the BICUBIC filter (src/libImaging/Resample.c: precompute_coeffs,
// normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc / ImagingResampleVertical_8bpc, ImagingResampleInner):
// an antialiased separable convolution (the kernel is widened by the shrink factor) with weights rounded to 22-bit
// fixed point, 32-bit integer sums, and rounding plus clamping to uint8 after each pass. Pillow runs the vertical
// pass first when the height shrinks by more than twice as many pixels as the width, else the horizontal pass
// first. Deviation, exact by construction: only the output pixels that a later crop keeps are computed (each
// output sample depends only on its own weights and input samples), and a pass over an unchanged axis, which
// Pillow skips, uses a single unit weight, which yields the input value exactly.

/// Fraction bits of the fixed-point weights: 32 bits, less 8 for the sample and 2 for the overshoot of the
/// kernel's negative lobes.
let resampleFractionBits: Int32 = 22

/// Pillow's bicubic convolution kernel (a = -0.5), support 2.
@inline(__always)
func bicubicKernel(_ x: Double) -> Double {
    let a = -0.5
    let x = x < 0 ? -x : x
    if x < 1 {
        return ((a + 2) * x - (a + 3)) * x * x + 1
    }
    if x < 2 {
        return (((x - 5) * x + 8) * x - 4) * a
    }
    return 0
}

/// The fixed-point weights that resample one axis from `inputCount` to `outputCount` samples, for the output
/// positions in `kept` only.
struct ResampleAxis {
    /// Output positions this axis computes, in the full resized image.
    let kept: Range<Int>
    /// Weights stored per output position (Pillow's `ksize`); unused trailing weights are zero.
    let stride: Int
    /// First input sample read by each kept output position.
    let starts: [Int]
    /// Number of input samples read by each kept output position.
    let counts: [Int]
    /// `kept.count * stride` weights in 22-bit fixed point.
    let weights: [Int32]
    /// Input samples read by any kept output position.
    let inputs: Range<Int>

    init(inputCount: Int, outputCount: Int, kept: Range<Int>) {
        precondition(inputCount > 0 && outputCount > 0, "empty axis: \(inputCount) -> \(outputCount)")
        precondition(kept.lowerBound >= 0 && kept.upperBound <= outputCount && !kept.isEmpty,
                     "kept outputs \(kept) outside 0..<\(outputCount)")
        self.kept = kept
        if inputCount == outputCount {
            stride = 1
            starts = Array(kept)
            counts = Array(repeating: 1, count: kept.count)
            weights = Array(repeating: 1 << resampleFractionBits, count: kept.count)
            inputs = kept
            return
        }
        let scale = Double(inputCount) / Double(outputCount)
        let filterScale = max(scale, 1)
        let support = 2 * filterScale
        let inverseFilterScale = 1 / filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        let unit = Double(1 << resampleFractionBits)
        var starts = [Int]()
        var counts = [Int]()
        var weights = [Int32](repeating: 0, count: kept.count * stride)
        var real = [Double](repeating: 0, count: stride)
        starts.reserveCapacity(kept.count)
        counts.reserveCapacity(kept.count)
        for (slot, position) in kept.enumerated() {
            let center = (Double(position) + 0.5) * scale
            // Truncating conversions on purpose: Pillow rounds with `(int)(value + 0.5)`.
            let first = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inputCount) - first
            var total = 0.0
            for tap in 0..<count {
                let weight = bicubicKernel((Double(tap + first) - center + 0.5) * inverseFilterScale)
                real[tap] = weight
                total += weight
            }
            for tap in 0..<count {
                var weight = real[tap]
                if total != 0 {
                    weight /= total
                }
                weights[slot * stride + tap] = Int32(weight < 0 ? weight * unit - 0.5 : weight * unit + 0.5)
            }
            starts.append(first)
            counts.append(count)
        }
        self.stride = stride
        self.starts = starts
        self.counts = counts
        self.weights = weights
        var lowest = Int.max
        var highest = Int.min
        for slot in starts.indices {
            lowest = min(lowest, starts[slot])
            highest = max(highest, starts[slot] + counts[slot])
        }
        inputs = lowest..<highest
    }
}

/// One channel of an 8-bit image in memory: sample (x, y) is at `base[y * rowStride + x * pixelStride]`.
struct SamplePlane {
    var base: UnsafePointer<UInt8>
    var rowStride: Int
    var pixelStride: Int
}

/// Rounds a fixed-point sum to a sample and clamps it to 0...255, as Pillow's `clip8`.
@inline(__always)
func clampSample(_ sum: Int32) -> UInt8 {
    UInt8(clamping: sum >> resampleFractionBits)
}

/// Resamples `rowCount` rows of `source` along x with `axis`. Column 0 of `source` is input sample
/// `firstColumn`. Writes `axis.kept.count` samples per row to `destination`, rows `destinationRowStride` apart.
func resampleRows(
    _ source: SamplePlane, firstColumn: Int, rowCount: Int, axis: ResampleAxis,
    into destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int
) {
    let half: Int32 = 1 << (resampleFractionBits - 1)
    let pixelStride = source.pixelStride
    axis.starts.withUnsafeBufferPointer { starts in
        axis.counts.withUnsafeBufferPointer { counts in
            axis.weights.withUnsafeBufferPointer { weights in
                for row in 0..<rowCount {
                    let input = source.base + row * source.rowStride
                    let output = destination + row * destinationRowStride
                    for slot in 0..<starts.count {
                        let samples = input + (starts[slot] - firstColumn) * pixelStride
                        let taps = weights.baseAddress! + slot * axis.stride
                        var sum = half
                        for tap in 0..<counts[slot] {
                            sum &+= Int32(samples[tap * pixelStride]) &* taps[tap]
                        }
                        output[slot] = clampSample(sum)
                    }
                }
            }
        }
    }
}

/// Resamples `columnCount` columns of `source` along y with `axis`. Row 0 of `source` is input sample `firstRow`.
/// Writes `axis.kept.count` rows of `columnCount` samples to `destination`, rows `destinationRowStride` apart.
/// `sums` holds at least `columnCount` values of scratch space.
func resampleColumns(
    _ source: SamplePlane, firstRow: Int, columnCount: Int, axis: ResampleAxis,
    into destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int, sums: UnsafeMutablePointer<Int32>
) {
    let half: Int32 = 1 << (resampleFractionBits - 1)
    let pixelStride = source.pixelStride
    axis.starts.withUnsafeBufferPointer { starts in
        axis.counts.withUnsafeBufferPointer { counts in
            axis.weights.withUnsafeBufferPointer { weights in
                for slot in 0..<starts.count {
                    sums.update(repeating: half, count: columnCount)
                    for tap in 0..<counts[slot] {
                        let input = source.base + (starts[slot] - firstRow + tap) * source.rowStride
                        let weight = weights[slot * axis.stride + tap]
                        if pixelStride == 1 {
                            for column in 0..<columnCount {
                                sums[column] &+= Int32(input[column]) &* weight
                            }
                        } else {
                            for column in 0..<columnCount {
                                sums[column] &+= Int32(input[column * pixelStride]) &* weight
                            }
                        }
                    }
                    let output = destination + slot * destinationRowStride
                    for column in 0..<columnCount {
                        output[column] = clampSample(sums[column])
                    }
                }
            }
        }
    }
}
