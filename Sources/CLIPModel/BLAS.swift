// OpenBLAS controls and the matrix-multiply figures that speed is judged against.
import COpenBLAS
import Foundation

public enum BLAS {
    /// Threads OpenBLAS uses for each call.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// Measures this machine's sgemm rate (GFLOP/s) on square n×n products: the median of `runs` timed calls
    /// after one warm-up. It is the roofline that the encoder's achieved rate is compared with.
    public static func sgemmGFLOPS(n: Int = 768, runs: Int = 9) -> Double {
        var a = [Float](repeating: 0, count: n * n)
        var b = [Float](repeating: 0, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        for i in 0..<(n * n) {
            a[i] = Float(i % 17) * 0.01
            b[i] = Float(i % 13) * 0.01
        }
        func multiply() {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n),
                0, &c, Int32(n))
        }
        multiply()
        var seconds: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            multiply()
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let median = seconds.sorted()[runs / 2]
        return 2 * Double(n) * Double(n) * Double(n) / median / 1e9
    }
}

extension CLIPConfiguration {
    /// Floating-point operations (multiply and add counted apart) of one image encoding: patch embedding,
    /// the transformer blocks' matrix products and attention, and the projection.
    public var imageFLOPs: Double {
        let v = vision
        let tokens = Double(v.tokenCount)
        let width = Double(v.hiddenSize)
        let patches = Double(v.gridSize * v.gridSize)
        let patchEmbed = 2 * patches * Double(v.numChannels * v.patchSize * v.patchSize) * width
        let perLayer =
            2 * tokens * width * 3 * width  // q, k, v
            + 2 * 2 * tokens * tokens * width  // scores and weighted values
            + 2 * tokens * width * width  // output projection
            + 2 * 2 * tokens * width * Double(v.intermediateSize)  // fc1, fc2
        return patchEmbed + Double(v.numHiddenLayers) * perLayer + 2 * width * Double(projectionDim)
    }
}
