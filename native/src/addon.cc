// N-API entry points (node-addon-api). Argument checking is light on purpose: src/native.ts is the
// only caller and validates first; a wrong call throws a TypeError rather than crashing.
#include <napi.h>

#include "block_hash.h"

namespace {

Napi::Value Throw(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// hashTokenBlocks(tokens: Int32Array, blockSize: number, seed: number, out: Float64Array): void
Napi::Value HashTokenBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsTypedArray()) {
    return Throw(env, "hashTokenBlocks(tokens: Int32Array, blockSize: number, seed: number, out: Float64Array)");
  }
  auto tokens = info[0].As<Napi::TypedArray>();
  auto out = info[3].As<Napi::TypedArray>();
  if (tokens.TypedArrayType() != napi_int32_array || out.TypedArrayType() != napi_float64_array) {
    return Throw(env, "tokens must be an Int32Array and out a Float64Array");
  }
  const int64_t block_size = info[1].As<Napi::Number>().Int64Value();
  const uint32_t seed = info[2].As<Napi::Number>().Uint32Value();
  const size_t count = tokens.ElementLength();
  if (block_size < 1) return Throw(env, "blockSize must be >= 1");
  const size_t blocks = (count + block_size - 1) / block_size;
  if (out.ElementLength() < blocks) return Throw(env, "out is shorter than the number of blocks");
  auto* token_data = reinterpret_cast<const uint32_t*>(static_cast<uint8_t*>(tokens.ArrayBuffer().Data()) + tokens.ByteOffset());
  auto* out_data = reinterpret_cast<double*>(static_cast<uint8_t*>(out.ArrayBuffer().Data()) + out.ByteOffset());
  kvflow::HashTokenBlocks(token_data, count, static_cast<size_t>(block_size), seed, out_data);
  return env.Undefined();
}

// xxh32(words: Int32Array, seed: number): number, exposed so tests can check the primitive itself.
Napi::Value Xxh32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) return Throw(env, "xxh32(words: Int32Array, seed: number)");
  auto words = info[0].As<Napi::TypedArray>();
  if (words.TypedArrayType() != napi_int32_array) return Throw(env, "words must be an Int32Array");
  auto* data = reinterpret_cast<const uint32_t*>(static_cast<uint8_t*>(words.ArrayBuffer().Data()) + words.ByteOffset());
  return Napi::Number::New(env, kvflow::Xxh32Words(data, words.ElementLength(), info[1].As<Napi::Number>().Uint32Value()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("hashTokenBlocks", Napi::Function::New(env, HashTokenBlocks));
  exports.Set("xxh32", Napi::Function::New(env, Xxh32));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(kvflow_native, Init)
