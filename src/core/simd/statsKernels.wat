;; SIMD kernels of the statistics passes (statsPasses.ts) and of the content hash (payloadHash.ts), assembled at
;; build time by esbuild.js (wabt) and embedded in the bundle. Each performs the JS loop's float64 operations in
;; the same order per lane (four accumulators there, two f64x2 here), so the results are bit-identical.
(module
  (memory (export "memory") 24)
  (global $min (export "min") (mut f32) (f32.const 0))
  (global $max (export "max") (mut f32) (f32.const 0))
  (global $zeros (export "zeros") (mut i32) (i32.const 0))
  ;; pass 2's running totals: squares of lanes 0+2 and 1+3, near-zeros (reset by JS per chunk)
  (global $sq0 (export "sq0") (mut f64) (f64.const 0))
  (global $sq1 (export "sq1") (mut f64) (f64.const 0))
  (global $near (export "near") (mut i32) (i32.const 0))

  ;; Pass 1 of pass1F32 over $n float32 values at $p ($n a multiple of 4): returns the block sum
  ;; s0 + s1 + (s2 + s3), sets min, max and zeros, and writes the zero mask (1 per zero or -0) at $mask.
  (func (export "pass1") (param $p i32) (param $n i32) (param $mask i32) (result f64)
    (local $end i32) (local $x v128) (local $s01 v128) (local $s23 v128) (local $mn v128) (local $mx v128)
    (local $z v128) (local $zc v128)
    (local.set $mn (f32x4.splat (f32.const inf)))
    (local.set $mx (f32x4.splat (f32.const -inf)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $s01 (f64x2.add (local.get $s01) (f64x2.promote_low_f32x4 (local.get $x))))
        (local.set $s23 (f64x2.add (local.get $s23) (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
        (local.set $mn (f32x4.min (local.get $mn) (local.get $x)))
        (local.set $mx (f32x4.max (local.get $mx) (local.get $x)))
        (local.set $z (f32x4.eq (local.get $x) (v128.const i32x4 0 0 0 0)))
        (local.set $zc (i32x4.sub (local.get $zc) (local.get $z)))
        (v128.store32_lane 0 (local.get $mask) (v128.and (i8x16.splat (i32.const 1))
          (i8x16.narrow_i16x8_s (i16x8.narrow_i32x4_s (local.get $z) (local.get $z))
            (i16x8.narrow_i32x4_s (local.get $z) (local.get $z)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $mask (i32.add (local.get $mask) (i32.const 4)))
        (br $l)))
    (global.set $min (f32.min
      (f32.min (f32x4.extract_lane 0 (local.get $mn)) (f32x4.extract_lane 1 (local.get $mn)))
      (f32.min (f32x4.extract_lane 2 (local.get $mn)) (f32x4.extract_lane 3 (local.get $mn)))))
    (global.set $max (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
      (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
    (global.set $zeros (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $zc)) (i32x4.extract_lane 1 (local.get $zc)))
      (i32.add (i32x4.extract_lane 2 (local.get $zc)) (i32x4.extract_lane 3 (local.get $zc)))))
    (f64.add
      (f64.add (f64x2.extract_lane 0 (local.get $s01)) (f64x2.extract_lane 1 (local.get $s01)))
      (f64.add (f64x2.extract_lane 0 (local.get $s23)) (f64x2.extract_lane 1 (local.get $s23)))))

  ;; Pass 2 of pass2F32 over $n float32 values at $p ($n a multiple of 4): squared deviations into sq0/sq1,
  ;; the fine histogram (four lanes of int32 counters at $fine, $lanes counters apart), near-zeros into
  ;; near; returns how many nonzero values lie within `low` of a coarse edge.
  (func (export "pass2") (param $p i32) (param $n i32) (param $fine i32) (param $lanes i32) (param $mean f64)
    (param $first f64) (param $fineNorm f64) (param $toCoarse f64) (param $low f64) (param $high f64)
    (param $nearLimit f64) (result i32)
    (local $end i32) (local $x v128) (local $xl v128) (local $xh v128) (local $dl v128) (local $dh v128)
    (local $tl v128) (local $th v128) (local $il v128) (local $ih v128) (local $cl v128) (local $ch v128)
    (local $sq v128) (local $susp v128) (local $nz v128) (local $nearc v128) (local $a i32)
    (local $f0 i32) (local $f1 i32) (local $f2 i32) (local $f3 i32)
    (local $vmean v128) (local $vfirst v128) (local $vnorm v128) (local $vcoarse v128) (local $vlow v128)
    (local $vhigh v128) (local $vnear v128)
    (local.set $vmean (f64x2.splat (local.get $mean)))
    (local.set $vfirst (f64x2.splat (local.get $first)))
    (local.set $vnorm (f64x2.splat (local.get $fineNorm)))
    (local.set $vcoarse (f64x2.splat (local.get $toCoarse)))
    (local.set $vlow (f64x2.splat (local.get $low)))
    (local.set $vhigh (f64x2.splat (local.get $high)))
    (local.set $vnear (f64x2.splat (local.get $nearLimit)))
    (local.set $f0 (local.get $fine))
    (local.set $f1 (i32.add (local.get $f0) (i32.shl (local.get $lanes) (i32.const 2))))
    (local.set $f2 (i32.add (local.get $f1) (i32.shl (local.get $lanes) (i32.const 2))))
    (local.set $f3 (i32.add (local.get $f2) (i32.shl (local.get $lanes) (i32.const 2))))
    (local.set $sq (f64x2.replace_lane 1 (f64x2.splat (global.get $sq0)) (global.get $sq1)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $xl (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $xh (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $dl (f64x2.sub (local.get $xl) (local.get $vmean)))
        (local.set $dh (f64x2.sub (local.get $xh) (local.get $vmean)))
        ;; lane 0: d0² + d2², lane 1: d1² + d3², as sq0 and sq1 in JS
        (local.set $sq (f64x2.add (local.get $sq)
          (f64x2.add (f64x2.mul (local.get $dl) (local.get $dl)) (f64x2.mul (local.get $dh) (local.get $dh)))))
        (local.set $tl (f64x2.mul (f64x2.sub (local.get $xl) (local.get $vfirst)) (local.get $vnorm)))
        (local.set $th (f64x2.mul (f64x2.sub (local.get $xh) (local.get $vfirst)) (local.get $vnorm)))
        (local.set $il (i32x4.trunc_sat_f64x2_s_zero (local.get $tl)))
        (local.set $ih (i32x4.trunc_sat_f64x2_s_zero (local.get $th)))
            (local.set $a (i32.add (local.get $f0) (i32.shl (i32x4.extract_lane 0 (local.get $il)) (i32.const 2))))
            (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
            (local.set $a (i32.add (local.get $f1) (i32.shl (i32x4.extract_lane 1 (local.get $il)) (i32.const 2))))
            (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
            (local.set $a (i32.add (local.get $f2) (i32.shl (i32x4.extract_lane 0 (local.get $ih)) (i32.const 2))))
            (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
            (local.set $a (i32.add (local.get $f3) (i32.shl (i32x4.extract_lane 1 (local.get $ih)) (i32.const 2))))
            (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        ;; position within the coarse bin: near 0 or 1 is near an edge (zeros left out)
        (local.set $cl (f64x2.mul (local.get $tl) (local.get $vcoarse)))
        (local.set $ch (f64x2.mul (local.get $th) (local.get $vcoarse)))
        (local.set $cl (f64x2.sub (local.get $cl) (f64x2.trunc (local.get $cl))))
        (local.set $ch (f64x2.sub (local.get $ch) (f64x2.trunc (local.get $ch))))
        (local.set $susp (i64x2.sub (local.get $susp) (v128.and
          (v128.or (f64x2.lt (local.get $cl) (local.get $vlow)) (f64x2.gt (local.get $cl) (local.get $vhigh)))
          (f64x2.ne (local.get $xl) (v128.const i32x4 0 0 0 0)))))
        (local.set $susp (i64x2.sub (local.get $susp) (v128.and
          (v128.or (f64x2.lt (local.get $ch) (local.get $vlow)) (f64x2.gt (local.get $ch) (local.get $vhigh)))
          (f64x2.ne (local.get $xh) (v128.const i32x4 0 0 0 0)))))
        (local.set $nearc (i64x2.sub (local.get $nearc) (f64x2.le (f64x2.abs (local.get $xl)) (local.get $vnear))))
        (local.set $nearc (i64x2.sub (local.get $nearc) (f64x2.le (f64x2.abs (local.get $xh)) (local.get $vnear))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l)))
    (global.set $sq0 (f64x2.extract_lane 0 (local.get $sq)))
    (global.set $sq1 (f64x2.extract_lane 1 (local.get $sq)))
    (global.set $near (i32.add (global.get $near) (i32.wrap_i64
      (i64.add (i64x2.extract_lane 0 (local.get $nearc)) (i64x2.extract_lane 1 (local.get $nearc))))))
    (i32.wrap_i64 (i64.add (i64x2.extract_lane 0 (local.get $susp)) (i64x2.extract_lane 1 (local.get $susp)))))

  ;; ContentHasher.mixWords' four-word loop over $n words at $p ($n a multiple of 4), lane k taking every
  ;; fourth word; the eight int32 lanes (a0..a3, b0..b3) are read from and written back to $state.
  (func (export "hash") (param $p i32) (param $n i32) (param $state i32)
    (local $end i32) (local $w v128) (local $a v128) (local $b v128)
    (local.set $a (v128.load (local.get $state)))
    (local.set $b (v128.load offset=16 (local.get $state)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $w (v128.load (local.get $p)))
        ;; roundA: acc += w * 0x85ebca77; rotl 13; * 0x9e3779b1
        (local.set $a (i32x4.add (local.get $a) (i32x4.mul (local.get $w) (i32x4.splat (i32.const 0x85ebca77)))))
        (local.set $a (i32x4.mul
          (v128.or (i32x4.shl (local.get $a) (i32.const 13)) (i32x4.shr_u (local.get $a) (i32.const 19)))
          (i32x4.splat (i32.const 0x9e3779b1))))
        ;; roundB: acc ^= w * 0xcc9e2d51; rotl 17; * 0x1b873593
        (local.set $b (v128.xor (local.get $b) (i32x4.mul (local.get $w) (i32x4.splat (i32.const 0xcc9e2d51)))))
        (local.set $b (i32x4.mul
          (v128.or (i32x4.shl (local.get $b) (i32.const 17)) (i32x4.shr_u (local.get $b) (i32.const 15)))
          (i32x4.splat (i32.const 0x1b873593))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l)))
    (v128.store (local.get $state) (local.get $a))
    (v128.store offset=16 (local.get $state) (local.get $b)))

  ;; N:M counters (layoutMetrics.ts): dst[k] += src[k] for $n bytes (counts stay <= M <= 255: no carry).
  (func (export "addBytes") (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (local.get $n)))
    (block $vd
      (loop $vec
        (br_if $vd (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $dst) (i8x16.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $vec)))
    (block $sd
      (loop $scalar
        (br_if $sd (i32.ge_u (local.get $dst) (local.get $end)))
        (i32.store8 (local.get $dst) (i32.add (i32.load8_u (local.get $dst)) (i32.load8_u (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (br $scalar))))

  ;; How many of the $n byte counters at $p are >= $need; resets them to 0.
  (func (export "countAtLeast") (param $p i32) (param $n i32) (param $need i32) (result i32)
    (local $end i32) (local $acc v128) (local $vneed v128) (local $count i32)
    (local.set $vneed (i8x16.splat (local.get $need)))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $vd
      (loop $vec
        (br_if $vd (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $acc (i32x4.add (local.get $acc) (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u
          (v128.and (i8x16.ge_u (v128.load (local.get $p)) (local.get $vneed)) (i8x16.splat (i32.const 1)))))))
        (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec)))
    (block $sd
      (loop $scalar
        (br_if $sd (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $count (i32.add (local.get $count) (i32.ge_u (i32.load8_u (local.get $p)) (local.get $need))))
        (i32.store8 (local.get $p) (i32.const 0))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $scalar)))
    (i32.add (local.get $count) (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))

  ;; 1 when none of the $n float32 values at $p is NaN or ±Inf (|x| < Inf is false exactly for those).
  (func (export "finite") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $ok v128) (local $inf v128) (local $one i32)
    (local.set $inf (f32x4.splat (f32.const inf)))
    (local.set $ok (v128.const i32x4 -1 -1 -1 -1))
    (local.set $one (i32.const 1))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $vd
      (loop $vec
        (br_if $vd (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $ok (v128.and (local.get $ok) (f32x4.lt (f32x4.abs (v128.load (local.get $p))) (local.get $inf))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec)))
    (block $sd
      (loop $scalar
        (br_if $sd (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $one (i32.and (local.get $one) (f32.lt (f32.abs (f32.load (local.get $p))) (f32.const inf))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $scalar)))
    (i32.and (local.get $one) (i32x4.all_true (local.get $ok))))

  ;; N:M groups of four consecutive mask bytes at $p ($groups of them): how many hold at least $need ones.
  (func (export "countGroups4") (param $p i32) (param $groups i32) (param $need i32) (result i32)
    (local $end i32) (local $acc v128) (local $vneed v128) (local $count i32) (local $z i32)
    (local.set $vneed (i32x4.splat (local.get $need)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $groups) (i32.const 2))))
    (block $vd
      (loop $vec
        (br_if $vd (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        ;; each i32 lane sums its group's four bytes
        (local.set $acc (i32x4.sub (local.get $acc) (i32x4.ge_s
          (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (v128.load (local.get $p))))
          (local.get $vneed))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec)))
    (block $sd
      (loop $scalar
        (br_if $sd (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $z (i32.add (i32.add (i32.load8_u (local.get $p)) (i32.load8_u offset=1 (local.get $p)))
          (i32.add (i32.load8_u offset=2 (local.get $p)) (i32.load8_u offset=3 (local.get $p)))))
        (local.set $count (i32.add (local.get $count) (i32.ge_s (local.get $z) (local.get $need))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $scalar)))
    (i32.add (local.get $count) (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
)
