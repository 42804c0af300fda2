// Per-pixel products of gathered windows with the kernel each pixel selects,
// fused on the CPU: PAFU's inference (selected_conv.indexed_conv2d).
//
//   out[p] = weight[index[p]] @ window(p) + bias[index[p]],
//   window(p) = concat over taps t of rows[base[p] + taps[t]].
//
// Pixels are counting-sorted by kernel (each kernel's pixels in ascending
// order) and split into blocks of at most `block_pixels` pixels of one
// kernel. Each thread gathers a block's windows into its own buffer, small
// enough to stay in its core's cache, multiplies them with the kernel by
// at::mm_out (BLAS, one thread inside the parallel region) and copies the
// results to their pixels' rows: no window or result ever goes through
// memory as a whole, and the output comes out in pixel order.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

struct Block {
  int64_t kernel;
  int64_t first;  // sorted positions [first, last)
  int64_t last;
};

// Pixels in order of their kernel, and each kernel's pixels as blocks.
void sort_by_kernel(const int64_t* index, int64_t pixels, int64_t kernels,
                    int64_t block_pixels, std::vector<int64_t>& order,
                    std::vector<Block>& blocks) {
  std::vector<int64_t> starts(kernels + 1, 0);
  for (int64_t p = 0; p < pixels; ++p) {
    TORCH_CHECK(index[p] >= 0 && index[p] < kernels, "index must be in [0, ",
                kernels, "), got ", index[p]);
    ++starts[index[p] + 1];
  }
  for (int64_t n = 0; n < kernels; ++n) starts[n + 1] += starts[n];
  std::vector<int64_t> next(starts.begin(), starts.end() - 1);
  order.resize(pixels);
  for (int64_t p = 0; p < pixels; ++p) order[next[index[p]]++] = p;
  // Equal blocks per kernel: no small remainder product.
  for (int64_t n = 0; n < kernels; ++n) {
    const int64_t count = starts[n + 1] - starts[n];
    const int64_t pieces = (count + block_pixels - 1) / block_pixels;
    for (int64_t i = 0; i < pieces; ++i) {
      blocks.push_back({n, starts[n] + i * count / pieces,
                        starts[n] + (i + 1) * count / pieces});
    }
  }
}

template <typename scalar_t>
void window_products_kernel(const at::Tensor& rows, const int64_t* base,
                            const int64_t* taps, int64_t num_taps,
                            const at::Tensor& weight, const scalar_t* bias,
                            const std::vector<int64_t>& order,
                            const std::vector<Block>& blocks,
                            int64_t block_pixels, at::Tensor& out) {
  const int64_t channels = rows.size(1);
  const int64_t out_channels = weight.size(1);
  const int64_t window = weight.size(2);
  const scalar_t* row_data = rows.data_ptr<scalar_t>();
  const scalar_t* weight_data = weight.data_ptr<scalar_t>();
  scalar_t* out_data = out.data_ptr<scalar_t>();
  const auto options = rows.options();
  at::parallel_for(0, blocks.size(), 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> windows(block_pixels * window);
    std::vector<scalar_t> results(block_pixels * out_channels);
    for (int64_t b = begin; b < end; ++b) {
      const Block& block = blocks[b];
      const int64_t count = block.last - block.first;
      for (int64_t i = 0; i < count; ++i) {
        const scalar_t* first = row_data + base[order[block.first + i]] *
                                               channels;
        scalar_t* target = windows.data() + i * window;
        for (int64_t t = 0; t < num_taps; ++t) {
          std::memcpy(target + t * channels, first + taps[t] * channels,
                      channels * sizeof(scalar_t));
        }
      }
      at::Tensor product =
          at::from_blob(results.data(), {count, out_channels}, options);
      at::mm_out(product,
                 at::from_blob(windows.data(), {count, window}, options),
                 at::from_blob(const_cast<scalar_t*>(weight_data) +
                                   block.kernel * out_channels * window,
                               {out_channels, window}, options)
                     .t());
      const scalar_t* kernel_bias =
          bias == nullptr ? nullptr : bias + block.kernel * out_channels;
      for (int64_t i = 0; i < count; ++i) {
        scalar_t* target = out_data + order[block.first + i] * out_channels;
        const scalar_t* result = results.data() + i * out_channels;
        if (kernel_bias == nullptr) {
          std::memcpy(target, result, out_channels * sizeof(scalar_t));
        } else {
          for (int64_t c = 0; c < out_channels; ++c) {
            target[c] = result[c] + kernel_bias[c];
          }
        }
      }
    }
  });
}

}  // namespace

// Args:
//   rows: (R, C) contiguous, the padded channels-last input's pixels.
//   base: (P,) int64, first row of each output pixel's window.
//   taps: (T,) int64, row offset of each tap from the first row.
//   index: (P,) int64 in [0, n), the kernel of each output pixel.
//   weight: (n, C_out, T * C) contiguous, windows tap-major, channel-minor.
//   bias: (n, C_out) contiguous, or None.
//   block_pixels: most windows gathered at once per thread.
// Returns:
//   (P, C_out), row p the output of pixel p.
at::Tensor window_products(const at::Tensor& rows, const at::Tensor& base,
                           const at::Tensor& taps, const at::Tensor& index,
                           const at::Tensor& weight,
                           const c10::optional<at::Tensor>& bias,
                           int64_t block_pixels) {
  for (const at::Tensor* t : {&rows, &base, &taps, &index, &weight}) {
    TORCH_CHECK(t->device().is_cpu() && t->is_contiguous(),
                "window_products takes contiguous CPU tensors");
  }
  TORCH_CHECK(rows.dim() == 2 && weight.dim() == 3,
              "rows must be (R, C) and weight (n, C_out, T * C)");
  TORCH_CHECK(base.scalar_type() == at::kLong &&
                  taps.scalar_type() == at::kLong &&
                  index.scalar_type() == at::kLong,
              "base, taps and index must be int64");
  TORCH_CHECK(base.numel() == index.numel(),
              "base and index must hold one entry per output pixel");
  TORCH_CHECK(weight.size(2) == taps.numel() * rows.size(1),
              "weight's last dimension must be taps * channels = ",
              taps.numel() * rows.size(1), ", got ", weight.size(2));
  TORCH_CHECK(weight.scalar_type() == rows.scalar_type(),
              "weight must have rows' dtype");
  TORCH_CHECK(block_pixels > 0, "block_pixels must be positive");
  const int64_t kernels = weight.size(0);
  if (bias.has_value()) {
    TORCH_CHECK(bias->device().is_cpu() && bias->is_contiguous() &&
                    bias->scalar_type() == rows.scalar_type() &&
                    bias->numel() == kernels * weight.size(1),
                "bias must be a contiguous CPU (n, C_out) in rows' dtype");
  }
  const int64_t* base_data = base.data_ptr<int64_t>();
  const int64_t* tap_data = taps.data_ptr<int64_t>();
  if (taps.numel() > 0 && base.numel() > 0) {
    const auto [low, high] =
        std::minmax_element(tap_data, tap_data + taps.numel());
    const auto [first, last] =
        std::minmax_element(base_data, base_data + base.numel());
    TORCH_CHECK(*first + *low >= 0 && *last + *high < rows.size(0),
                "windows reach rows outside [0, ", rows.size(0), ")");
  }
  std::vector<int64_t> order;
  std::vector<Block> blocks;
  sort_by_kernel(index.data_ptr<int64_t>(), index.numel(), kernels,
                 block_pixels, order, blocks);
  at::Tensor out = at::empty({index.numel(), weight.size(1)}, rows.options());
  AT_DISPATCH_FLOATING_TYPES(rows.scalar_type(), "window_products", [&] {
    window_products_kernel<scalar_t>(
        rows, base_data, tap_data, taps.numel(), weight,
        bias.has_value() ? bias->data_ptr<scalar_t>() : nullptr, order,
        blocks, block_pixels, out);
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("window_products", &window_products,
        "Per-pixel products of gathered windows with the selected kernel");
}
