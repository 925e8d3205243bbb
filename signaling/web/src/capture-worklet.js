// AudioWorklet processor: the microphone's first channel as int16 PCM, posted to the main
// thread in blocks of BLOCK_FRAMES frames (about 43 ms at 48 kHz).
//
// Rounding rule (float -> int16): clamp to [-1, 1], multiply by 32767, round to the
// nearest integer with halves rounded up (Math.round). So 1.0 -> 32767, -1.0 -> -32767,
// 0.5 -> 16384 (16383.5 rounds up); -32768 is never produced.
//
// The render thread must not allocate per quantum: samples go into one preallocated block,
// and only a full block is handed over (transferred, then replaced) - one allocation per
// BLOCK_FRAMES frames, not per 128-frame quantum.

const BLOCK_FRAMES = 2048;

class VampCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Int16Array(BLOCK_FRAMES);
    this.filled = 0;
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data === 'stop') {
        this._flush();
        this.running = false;
        this.port.postMessage({ done: true });
      }
    };
  }

  _flush() {
    if (this.filled === 0) return;
    const full = this.block;
    const frames = this.filled;
    this.block = new Int16Array(BLOCK_FRAMES);
    this.filled = 0;
    this.port.postMessage({ pcm: full.buffer, frames }, [full.buffer]);
  }

  process(inputs) {
    if (!this.running) return false;
    const input = inputs[0];
    // No input connected yet (or a silent quantum with no channels): nothing was captured.
    if (!input || input.length === 0) return true;
    const samples = input[0];
    for (let i = 0; i < samples.length; i++) {
      let x = samples[i];
      if (x > 1) x = 1;
      else if (x < -1) x = -1;
      this.block[this.filled++] = Math.round(x * 32767);
      if (this.filled === BLOCK_FRAMES) this._flush();
    }
    return true;
  }
}

registerProcessor('vamp-capture', VampCapture);
