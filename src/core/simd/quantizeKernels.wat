;; SIMD kernels of the blockwise quantizer (quantizeBlockwise.ts, MatMul's B [K, N] layout), assembled at
;; build time by esbuild.js (wabt) and embedded in the bundle. Every float32 operation is the one the JS
;; path performs through Math.fround (a product, then a sum, both rounded to float32; no fused multiply-add),
;; so the codes are bit-identical to it. Columns go four at a time (one f32x4); the last N mod 4 columns
;; take the scalar copies of the same formulas.
(module
  (memory (export "memory") 1)
;; Σ w² and Σ (w - dequantized w)² of everything the codes kernels saw since the last reset (float64):
  ;; scalar parts, and two lanes each from the four-at-a-time loops.
  (global $signal (mut f64) (f64.const 0))
  (global $error (mut f64) (f64.const 0))
  (global $signalV (mut v128) (v128.const i32x4 0 0 0 0))
  (global $errorV (mut v128) (v128.const i32x4 0 0 0 0))

  (func (export "resetEnergy")
    (global.set $signal (f64.const 0))
    (global.set $error (f64.const 0))
    (global.set $signalV (v128.const i32x4 0 0 0 0))
    (global.set $errorV (v128.const i32x4 0 0 0 0)))

  (func (export "signal") (result f64)
    (f64.add (global.get $signal)
      (f64.add (f64x2.extract_lane 0 (global.get $signalV)) (f64x2.extract_lane 1 (global.get $signalV)))))

  (func (export "error") (result f64)
    (f64.add (global.get $error)
      (f64.add (f64x2.extract_lane 0 (global.get $errorV)) (f64x2.extract_lane 1 (global.get $errorV)))))

  ;; Running min/max per column over `rows` rows of a row-major [rows, n] float32 block at $w. Like the JS
  ;; `if (v < min) min = v`, a NaN never replaces the running value (compare and select, not f32x4.min).
  ;; Four rows at a time, in order, so each column's running values are loaded and stored once per four.
  (func (export "ranges") (param $w i32) (param $rows i32) (param $n i32) (param $mins i32) (param $maxs i32)
    (local $end i32) (local $j i32) (local $n4 i32) (local $v v128) (local $mn v128) (local $mx v128)
    (local $at i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $r1 (i32.shl (local.get $n) (i32.const 2)))
    (local.set $r2 (i32.shl (local.get $n) (i32.const 3)))
    (local.set $r3 (i32.add (local.get $r1) (local.get $r2)))
    (local.set $end (i32.add (local.get $w) (i32.shl (i32.mul (local.get $rows) (local.get $n)) (i32.const 2))))
    (block $done4
      (loop $row4
        (br_if $done4 (i32.gt_u (i32.add (local.get $w) (i32.shl (local.get $r1) (i32.const 2))) (local.get $end)))
        (local.set $j (i32.const 0))
        (block $vd
          (loop $vec
            (br_if $vd (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $at (i32.shl (local.get $j) (i32.const 2)))
            (local.set $mn (v128.load (i32.add (local.get $mins) (local.get $at))))
            (local.set $mx (v128.load (i32.add (local.get $maxs) (local.get $at))))
            (local.set $v (v128.load (i32.add (local.get $w) (local.get $at))))
            (local.set $mn (v128.bitselect (local.get $v) (local.get $mn) (f32x4.lt (local.get $v) (local.get $mn))))
            (local.set $mx (v128.bitselect (local.get $v) (local.get $mx) (f32x4.gt (local.get $v) (local.get $mx))))
            (local.set $v (v128.load (i32.add (i32.add (local.get $w) (local.get $r1)) (local.get $at))))
            (local.set $mn (v128.bitselect (local.get $v) (local.get $mn) (f32x4.lt (local.get $v) (local.get $mn))))
            (local.set $mx (v128.bitselect (local.get $v) (local.get $mx) (f32x4.gt (local.get $v) (local.get $mx))))
            (local.set $v (v128.load (i32.add (i32.add (local.get $w) (local.get $r2)) (local.get $at))))
            (local.set $mn (v128.bitselect (local.get $v) (local.get $mn) (f32x4.lt (local.get $v) (local.get $mn))))
            (local.set $mx (v128.bitselect (local.get $v) (local.get $mx) (f32x4.gt (local.get $v) (local.get $mx))))
            (local.set $v (v128.load (i32.add (i32.add (local.get $w) (local.get $r3)) (local.get $at))))
            (local.set $mn (v128.bitselect (local.get $v) (local.get $mn) (f32x4.lt (local.get $v) (local.get $mn))))
            (local.set $mx (v128.bitselect (local.get $v) (local.get $mx) (f32x4.gt (local.get $v) (local.get $mx))))
            (v128.store (i32.add (local.get $mins) (local.get $at)) (local.get $mn))
            (v128.store (i32.add (local.get $maxs) (local.get $at)) (local.get $mx))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        ;; the last n mod 4 columns, row by row
        (call $rangesTail (local.get $w) (local.get $j) (local.get $n) (local.get $mins) (local.get $maxs))
        (call $rangesTail (i32.add (local.get $w) (local.get $r1)) (local.get $j) (local.get $n) (local.get $mins) (local.get $maxs))
        (call $rangesTail (i32.add (local.get $w) (local.get $r2)) (local.get $j) (local.get $n) (local.get $mins) (local.get $maxs))
        (call $rangesTail (i32.add (local.get $w) (local.get $r3)) (local.get $j) (local.get $n) (local.get $mins) (local.get $maxs))
        (local.set $w (i32.add (local.get $w) (i32.shl (local.get $r1) (i32.const 2))))
        (br $row4)))
    ;; the last rows mod 4, one at a time
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $j (i32.const 0))
        (block $vd1
          (loop $vec1
            (br_if $vd1 (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $at (i32.shl (local.get $j) (i32.const 2)))
            (local.set $mn (v128.load (i32.add (local.get $mins) (local.get $at))))
            (local.set $mx (v128.load (i32.add (local.get $maxs) (local.get $at))))
            (local.set $v (v128.load (i32.add (local.get $w) (local.get $at))))
            (local.set $mn (v128.bitselect (local.get $v) (local.get $mn) (f32x4.lt (local.get $v) (local.get $mn))))
            (local.set $mx (v128.bitselect (local.get $v) (local.get $mx) (f32x4.gt (local.get $v) (local.get $mx))))
            (v128.store (i32.add (local.get $mins) (local.get $at)) (local.get $mn))
            (v128.store (i32.add (local.get $maxs) (local.get $at)) (local.get $mx))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec1)))
        (call $rangesTail (local.get $w) (local.get $j) (local.get $n) (local.get $mins) (local.get $maxs))
        (local.set $w (i32.add (local.get $w) (local.get $r1)))
        (br $row))))

  ;; Running min/max of columns [$j, $n) of the row at $w, one value at a time.
  (func $rangesTail (param $w i32) (param $j i32) (param $n i32) (param $mins i32) (param $maxs i32)
    (local $at i32) (local $x f32)
    (block $sd
      (loop $scalar
        (br_if $sd (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $at (i32.shl (local.get $j) (i32.const 2)))
        (local.set $x (f32.load (i32.add (local.get $w) (local.get $at))))
        (if (f32.lt (local.get $x) (f32.load (i32.add (local.get $mins) (local.get $at))))
          (then (f32.store (i32.add (local.get $mins) (local.get $at)) (local.get $x))))
        (if (f32.gt (local.get $x) (f32.load (i32.add (local.get $maxs) (local.get $at))))
          (then (f32.store (i32.add (local.get $maxs) (local.get $at)) (local.get $x))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $scalar))))

  ;; 1 when none of the $n float32 values at $p is NaN or infinite: v - v is 0 exactly for finite v (NaN
  ;; otherwise), and a NaN stays in the running sum.
  (func (export "finite") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $acc v128) (local $v v128) (local $tail f32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $vd
      (loop $vec
        (br_if $vd (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.sub (local.get $v) (local.get $v))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec)))
    (block $sd
      (loop $scalar
        (br_if $sd (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $tail (f32.add (local.get $tail)
          (f32.sub (f32.load (local.get $p)) (f32.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $scalar)))
    (i32.and (f32.eq (local.get $tail) (f32.const 0))
      (i32x4.all_true (f32x4.eq (local.get $acc) (v128.const f32x4 0 0 0 0)))))

  ;; Scale, reciprocal and zero point of $count blocks from their min and max at $mins/$maxs (blockScale of
  ;; quantizeBlockwise.ts for float32 scales, in its float32 steps: a float64 operation on two float32
  ;; values rounded to float32 is the float32 operation) into $scale/$recip/$zps, which the codes kernels
  ;; read; then $mins/$maxs are reset for the next block. Block i's scale is also stored at
  ;; $out + i * $outStride and its zero point packed into the byte $zpOut + i * $zpStride + (b >> 3) at bit
  ;; (b & 7), b = $bit + i * $bitStep (a NaN zero point packs as 0, as JS's `<<` makes it). Four blocks at
  ;; a time, then one at a time; the zero point's halves are rounded away from zero as trunc(z) plus one
  ;; when z - trunc(z) >= 0.5 (exact for 0 <= z <= 255), which is floor(z + 0.5) in float64.
  (func (export "params")
    (param $mins i32) (param $maxs i32) (param $count i32) (param $scale i32) (param $recip i32)
    (param $zps i32) (param $out i32) (param $outStride i32) (param $zpOut i32) (param $zpStride i32)
    (param $bit i32) (param $bitStep i32) (param $bits i32) (param $symmetric i32)
    (local $i i32) (local $at i32) (local $mn f32) (local $mx f32) (local $lo f32) (local $s f32)
    (local $z f32) (local $mid f32) (local $qmax i32) (local $qf f32) (local $p i32) (local $addr i32)
    (local $mnV v128) (local $mxV v128) (local $loV v128) (local $sV v128) (local $zV v128) (local $tV v128)
    (local $count4 i32)
    (local.set $qmax (i32.sub (i32.shl (i32.const 1) (local.get $bits)) (i32.const 1)))
    (local.set $qf (f32.convert_i32_s (local.get $qmax)))
    (local.set $mid (f32.convert_i32_s (i32.shl (i32.const 1) (i32.sub (local.get $bits) (i32.const 1)))))
    (local.set $count4 (i32.and (local.get $count) (i32.const -4)))
    (block $vdone
      (loop $vblocks
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $count4)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $mnV (v128.load (i32.add (local.get $mins) (local.get $at))))
        (local.set $mxV (v128.load (i32.add (local.get $maxs) (local.get $at))))
        (v128.store (i32.add (local.get $mins) (local.get $at)) (f32x4.splat (f32.const 0x1.fffffep+127)))
        (v128.store (i32.add (local.get $maxs) (local.get $at)) (f32x4.splat (f32.const -0x1.fffffep+127)))
        (if (local.get $symmetric)
          (then
            (local.set $sV (f32x4.div
              (f32x4.neg (v128.bitselect (local.get $mxV) (local.get $mnV)
                (f32x4.gt (f32x4.abs (local.get $mxV)) (f32x4.abs (local.get $mnV)))))
              (f32x4.splat (local.get $mid))))
            (local.set $zV (f32x4.splat (local.get $mid))))
          (else
            (local.set $loV (f32x4.min (local.get $mnV) (f32x4.splat (f32.const 0))))
            (local.set $sV (f32x4.div
              (f32x4.sub (f32x4.max (local.get $mxV) (f32x4.splat (f32.const 0))) (local.get $loV))
              (f32x4.splat (local.get $qf))))
            (local.set $zV (v128.bitselect
              (f32x4.neg (f32x4.div (local.get $loV) (local.get $sV)))
              (local.get $loV)
              (f32x4.ne (local.get $sV) (f32x4.splat (f32.const 0)))))
            (local.set $tV (f32x4.trunc (local.get $zV)))
            (local.set $zV (v128.bitselect
              (f32x4.splat (f32.const 0))
              (v128.bitselect
                (f32x4.splat (local.get $qf))
                (f32x4.add (local.get $tV) (v128.and (f32x4.splat (f32.const 1))
                  (f32x4.ge (f32x4.sub (local.get $zV) (local.get $tV)) (f32x4.splat (f32.const 0.5)))))
                (f32x4.gt (local.get $zV) (f32x4.splat (local.get $qf))))
              (f32x4.lt (local.get $zV) (f32x4.splat (f32.const 0)))))))
        (v128.store (i32.add (local.get $scale) (local.get $at)) (local.get $sV))
        (v128.store (i32.add (local.get $recip) (local.get $at))
          (v128.bitselect
            (f32x4.div (f32x4.splat (f32.const 1)) (local.get $sV))
            (f32x4.splat (f32.const 0))
            (f32x4.ne (local.get $sV) (f32x4.splat (f32.const 0)))))
        (v128.store (i32.add (local.get $zps) (local.get $at)) (local.get $zV))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vblocks)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $mn (f32.load (i32.add (local.get $mins) (local.get $at))))
        (local.set $mx (f32.load (i32.add (local.get $maxs) (local.get $at))))
        (f32.store (i32.add (local.get $mins) (local.get $at)) (f32.const 0x1.fffffep+127))
        (f32.store (i32.add (local.get $maxs) (local.get $at)) (f32.const -0x1.fffffep+127))
        (if (local.get $symmetric)
          (then
            (local.set $s (f32.div
              (f32.neg (select (local.get $mx) (local.get $mn)
                (f32.gt (f32.abs (local.get $mx)) (f32.abs (local.get $mn)))))
              (local.get $mid)))
            (local.set $z (local.get $mid)))
          (else
            (local.set $lo (f32.min (local.get $mn) (f32.const 0)))
            (local.set $s (f32.div (f32.sub (f32.max (local.get $mx) (f32.const 0)) (local.get $lo))
              (local.get $qf)))
            (local.set $z (if (result f32) (f32.ne (local.get $s) (f32.const 0))
              (then (f32.neg (f32.div (local.get $lo) (local.get $s))))
              (else (local.get $lo))))
            ;; clamp to [0, qmax], else round halves away from zero (z + 0.5 is exact in float64)
            (local.set $z
              (if (result f32) (f32.lt (local.get $z) (f32.const 0))
                (then (f32.const 0))
                (else (if (result f32) (f32.gt (local.get $z) (local.get $qf))
                  (then (local.get $qf))
                  (else (f32.demote_f64 (f64.floor (f64.add (f64.promote_f32 (local.get $z)) (f64.const 0.5)))))))))))
        (f32.store (i32.add (local.get $scale) (local.get $at)) (local.get $s))
        (f32.store (i32.add (local.get $recip) (local.get $at))
          (if (result f32) (f32.ne (local.get $s) (f32.const 0))
            (then (f32.div (f32.const 1) (local.get $s)))
            (else (f32.const 0))))
        (f32.store (i32.add (local.get $zps) (local.get $at)) (local.get $z))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $blocks)))
    ;; every block's scale and packed zero point, where the weight keeps them
    (local.set $i (i32.const 0))
    (block $sdone
      (loop $stores
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (f32.store (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $outStride)))
          (f32.load (i32.add (local.get $scale) (local.get $at))))
        (local.set $p (i32.add (local.get $bit) (i32.mul (local.get $i) (local.get $bitStep))))
        (local.set $addr (i32.add (i32.add (local.get $zpOut) (i32.mul (local.get $i) (local.get $zpStride)))
          (i32.shr_u (local.get $p) (i32.const 3))))
        (local.set $p (i32.and (local.get $p) (i32.const 7)))
        (i32.store8 (local.get $addr)
          (i32.or
            (i32.and (i32.load8_u (local.get $addr)) (i32.xor (i32.shl (local.get $qmax) (local.get $p)) (i32.const -1)))
            (i32.shl (i32.trunc_sat_f32_s (f32.load (i32.add (local.get $zps) (local.get $at)))) (local.get $p))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $stores))))

  ;; One code: clamp(roundf(x), 0, qmax) for x = f32(f32(v * r) + zp). roundf is trunc(x) plus one when the
  ;; exact fraction x - trunc(x) is at least 0.5 (x + 0.5 would round in float32); negative x clamp to 0
  ;; either way. A non-finite x gives 0, as `(x + 0.5) | 0` does in JS.
  (func $code (param $x f32) (param $qmax i32) (result i32)
    (local $t f32) (local $c i32)
    (if (i32.eqz (f32.lt (f32.abs (local.get $x)) (f32.const 2147483648)))
      (then (return (i32.const 0))))
    (local.set $t (f32.trunc (local.get $x)))
    (local.set $c (i32.add (i32.trunc_f32_s (local.get $t))
      (f32.ge (f32.sub (local.get $x) (local.get $t)) (f32.const 0.5))))
    (if (i32.lt_s (local.get $c) (i32.const 0)) (then (local.set $c (i32.const 0))))
    (if (i32.gt_s (local.get $c) (local.get $qmax)) (then (local.set $c (local.get $qmax))))
    (local.get $c))

  ;; $code and its energies for one value; returns the code.
  (func $code1 (param $v f32) (param $r f32) (param $z f32) (param $s f32) (param $qmax i32) (result i32)
    (local $c i32) (local $sv f64) (local $d f64)
    (local.set $c (call $code (f32.add (f32.mul (local.get $v) (local.get $r)) (local.get $z)) (local.get $qmax)))
    (local.set $sv (f64.promote_f32 (local.get $v)))
    (local.set $d (f64.sub (local.get $sv) (f64.promote_f32
      (f32.mul (f32.sub (f32.convert_i32_s (local.get $c)) (local.get $z)) (local.get $s)))))
    (global.set $signal (f64.add (global.get $signal) (f64.mul (local.get $sv) (local.get $sv))))
    (global.set $error (f64.add (global.get $error) (f64.mul (local.get $d) (local.get $d))))
    (local.get $c))

  ;; Codes of `rows` rows of a row-major [rows, n] block at $w into bytes at $codes (same layout), from the
  ;; per-column reciprocal scale, zero point and stored scale; adds the energies.
  (func (export "codes")
    (param $w i32) (param $rows i32) (param $n i32) (param $recip i32) (param $zps i32) (param $scale i32)
    (param $codes i32) (param $qmax i32)
    (local $end i32) (local $j i32) (local $n4 i32) (local $at i32) (local $v v128) (local $z v128)
    (local $c v128) (local $qv v128)
    (local $x v128) (local $t v128) (local $dq v128) (local $vl v128) (local $vh v128) (local $dl v128) (local $dh v128) (local $sig v128) (local $err v128)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $qv (i32x4.splat (local.get $qmax)))
    (local.set $end (i32.add (local.get $w) (i32.shl (i32.mul (local.get $rows) (local.get $n)) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $j (i32.const 0))
        (block $vd
          (loop $vec
            (br_if $vd (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $at (i32.shl (local.get $j) (i32.const 2)))
            (local.set $v (v128.load (i32.add (local.get $w) (local.get $at))))
            (local.set $z (v128.load (i32.add (local.get $zps) (local.get $at))))
            (local.set $x (f32x4.add (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $recip) (local.get $at)))) (local.get $z)))
            (local.set $t (f32x4.trunc (local.get $x)))
            ;; trunc, +1 where the fraction is >= 0.5 (the mask is -1), 0 where x is not finite or huge.
            (local.set $c (i32x4.sub (i32x4.trunc_sat_f32x4_s (local.get $t))
              (f32x4.ge (f32x4.sub (local.get $x) (local.get $t)) (f32x4.splat (f32.const 0.5)))))
            (local.set $c (v128.and (local.get $c)
              (f32x4.lt (f32x4.abs (local.get $x)) (f32x4.splat (f32.const 2147483648)))))
            (local.set $c (i32x4.min_s (i32x4.max_s (local.get $c) (v128.const i32x4 0 0 0 0)) (local.get $qv)))
            (v128.store32_lane 0 (i32.add (local.get $codes) (local.get $j))
              (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $c) (local.get $c))
                (i16x8.narrow_i32x4_u (local.get $c) (local.get $c))))
            ;; energies in float64: w² and (w - f32((c - zp) * scale))², lanes 0+2 and 1+3
            (local.set $dq (f32x4.mul (f32x4.sub (f32x4.convert_i32x4_s (local.get $c)) (local.get $z)) (v128.load (i32.add (local.get $scale) (local.get $at)))))
            (local.set $vl (f64x2.promote_low_f32x4 (local.get $v)))
            (local.set $vh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
            (local.set $dl (f64x2.sub (local.get $vl) (f64x2.promote_low_f32x4 (local.get $dq))))
            (local.set $dh (f64x2.sub (local.get $vh) (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dq) (local.get $dq)))))
            (local.set $sig (f64x2.add (local.get $sig)
              (f64x2.add (f64x2.mul (local.get $vl) (local.get $vl)) (f64x2.mul (local.get $vh) (local.get $vh)))))
            (local.set $err (f64x2.add (local.get $err)
              (f64x2.add (f64x2.mul (local.get $dl) (local.get $dl)) (f64x2.mul (local.get $dh) (local.get $dh)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $sd
          (loop $scalar
            (br_if $sd (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $at (i32.shl (local.get $j) (i32.const 2)))
            (i32.store8 (i32.add (local.get $codes) (local.get $j))
              (call $code1 (f32.load (i32.add (local.get $w) (local.get $at)))
                (f32.load (i32.add (local.get $recip) (local.get $at)))
                (f32.load (i32.add (local.get $zps) (local.get $at)))
                (f32.load (i32.add (local.get $scale) (local.get $at))) (local.get $qmax)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $scalar)))
        (local.set $w (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $codes (i32.add (local.get $codes) (local.get $n)))
        (br $row)))
    (global.set $signalV (f64x2.add (global.get $signalV) (local.get $sig)))
    (global.set $errorV (f64x2.add (global.get $errorV) (local.get $err))))

  ;; Gemm's transB=1 B [N, K], one row of K values at $w: min and max of each of its $blocks blocks of $bs
  ;; values (the last may be partial) into $mins/$maxs. Four lanes keep JS's `if (v < min) min = v` (NaN
  ;; ignored); lanes are merged in order, and a result of ±0 is redone one value at a time, since lanes can
  ;; meet -0 and 0 in another order than the JS loop.
  (func (export "rangesNK") (param $w i32) (param $k i32) (param $bs i32) (param $mins i32) (param $maxs i32)
    (local $k0 i32) (local $k1 i32) (local $i i32) (local $v v128) (local $mn v128) (local $mx v128)
    (local $a f32) (local $b f32) (local $x f32) (local $lane i32)
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $k0) (local.get $k)))
        (local.set $k1 (select (local.get $k) (i32.add (local.get $k0) (local.get $bs))
          (i32.lt_u (local.get $k) (i32.add (local.get $k0) (local.get $bs)))))
        (local.set $mn (f32x4.splat (f32.const 0x1.fffffep+127)))
        (local.set $mx (f32x4.splat (f32.const -0x1.fffffep+127)))
        (local.set $i (local.get $k0))
        (block $vd
          (loop $vec
            (br_if $vd (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $k1)))
            (local.set $v (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $mn (v128.bitselect (local.get $v) (local.get $mn) (f32x4.lt (local.get $v) (local.get $mn))))
            (local.set $mx (v128.bitselect (local.get $v) (local.get $mx) (f32x4.gt (local.get $v) (local.get $mx))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $vec)))
        (local.set $a (f32x4.extract_lane 0 (local.get $mn)))
        (local.set $b (f32x4.extract_lane 0 (local.get $mx)))
        (if (f32.lt (f32x4.extract_lane 1 (local.get $mn)) (local.get $a)) (then (local.set $a (f32x4.extract_lane 1 (local.get $mn)))))
        (if (f32.lt (f32x4.extract_lane 2 (local.get $mn)) (local.get $a)) (then (local.set $a (f32x4.extract_lane 2 (local.get $mn)))))
        (if (f32.lt (f32x4.extract_lane 3 (local.get $mn)) (local.get $a)) (then (local.set $a (f32x4.extract_lane 3 (local.get $mn)))))
        (if (f32.gt (f32x4.extract_lane 1 (local.get $mx)) (local.get $b)) (then (local.set $b (f32x4.extract_lane 1 (local.get $mx)))))
        (if (f32.gt (f32x4.extract_lane 2 (local.get $mx)) (local.get $b)) (then (local.set $b (f32x4.extract_lane 2 (local.get $mx)))))
        (if (f32.gt (f32x4.extract_lane 3 (local.get $mx)) (local.get $b)) (then (local.set $b (f32x4.extract_lane 3 (local.get $mx)))))
        ;; the rest of a partial block; a ±0 result from the start, in order
        (if (i32.or (f32.eq (local.get $a) (f32.const 0)) (f32.eq (local.get $b) (f32.const 0)))
          (then
            (local.set $a (f32.const 0x1.fffffep+127))
            (local.set $b (f32.const -0x1.fffffep+127))
            (local.set $i (local.get $k0))))
        (block $sd
          (loop $scalar
            (br_if $sd (i32.ge_u (local.get $i) (local.get $k1)))
            (local.set $x (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
            (if (f32.lt (local.get $x) (local.get $a)) (then (local.set $a (local.get $x))))
            (if (f32.gt (local.get $x) (local.get $b)) (then (local.set $b (local.get $x))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scalar)))
        (f32.store (local.get $mins) (local.get $a))
        (f32.store (local.get $maxs) (local.get $b))
        (local.set $mins (i32.add (local.get $mins) (i32.const 4)))
        (local.set $maxs (i32.add (local.get $maxs) (i32.const 4)))
        (local.set $k0 (i32.add (local.get $k0) (local.get $bs)))
        (br $blocks))))

  ;; Codes of one [N, K] row at $w into bytes at $codes: block kb (of $bs values) uses the reciprocal, zero
  ;; point and scale at index kb; the padding after K gets code 0 (PAD_CODE in quantizeKernels.ts).
  (func (export "codesNK")
    (param $w i32) (param $k i32) (param $bs i32) (param $recip i32) (param $zps i32) (param $scale i32)
    (param $codes i32) (param $qmax i32)
    (local $k0 i32) (local $k1 i32) (local $i i32) (local $at i32) (local $v v128) (local $c v128) (local $qv v128)
    (local $r v128) (local $z v128) (local $s v128) (local $rf f32) (local $zf f32) (local $sf f32)
    (local $x v128) (local $t v128) (local $dq v128) (local $vl v128) (local $vh v128) (local $dl v128) (local $dh v128) (local $sig v128) (local $err v128)
    (local.set $qv (i32x4.splat (local.get $qmax)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $k0) (local.get $k)))
        (local.set $k1 (select (local.get $k) (i32.add (local.get $k0) (local.get $bs))
          (i32.lt_u (local.get $k) (i32.add (local.get $k0) (local.get $bs)))))
        (local.set $rf (f32.load (local.get $recip)))
        (local.set $zf (f32.load (local.get $zps)))
        (local.set $sf (f32.load (local.get $scale)))
        (local.set $r (f32x4.splat (local.get $rf)))
        (local.set $z (f32x4.splat (local.get $zf)))
        (local.set $s (f32x4.splat (local.get $sf)))
        (local.set $i (local.get $k0))
        (block $vd
          (loop $vec
            (br_if $vd (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $k1)))
            (local.set $v (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $x (f32x4.add (f32x4.mul (local.get $v) (local.get $r)) (local.get $z)))
            (local.set $t (f32x4.trunc (local.get $x)))
            ;; trunc, +1 where the fraction is >= 0.5 (the mask is -1), 0 where x is not finite or huge.
            (local.set $c (i32x4.sub (i32x4.trunc_sat_f32x4_s (local.get $t))
              (f32x4.ge (f32x4.sub (local.get $x) (local.get $t)) (f32x4.splat (f32.const 0.5)))))
            (local.set $c (v128.and (local.get $c)
              (f32x4.lt (f32x4.abs (local.get $x)) (f32x4.splat (f32.const 2147483648)))))
            (local.set $c (i32x4.min_s (i32x4.max_s (local.get $c) (v128.const i32x4 0 0 0 0)) (local.get $qv)))
            (v128.store32_lane 0 (i32.add (local.get $codes) (local.get $i))
              (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $c) (local.get $c))
                (i16x8.narrow_i32x4_u (local.get $c) (local.get $c))))
            ;; energies in float64: w² and (w - f32((c - zp) * scale))², lanes 0+2 and 1+3
            (local.set $dq (f32x4.mul (f32x4.sub (f32x4.convert_i32x4_s (local.get $c)) (local.get $z)) (local.get $s)))
            (local.set $vl (f64x2.promote_low_f32x4 (local.get $v)))
            (local.set $vh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
            (local.set $dl (f64x2.sub (local.get $vl) (f64x2.promote_low_f32x4 (local.get $dq))))
            (local.set $dh (f64x2.sub (local.get $vh) (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dq) (local.get $dq)))))
            (local.set $sig (f64x2.add (local.get $sig)
              (f64x2.add (f64x2.mul (local.get $vl) (local.get $vl)) (f64x2.mul (local.get $vh) (local.get $vh)))))
            (local.set $err (f64x2.add (local.get $err)
              (f64x2.add (f64x2.mul (local.get $dl) (local.get $dl)) (f64x2.mul (local.get $dh) (local.get $dh)))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $vec)))
        (block $sd
          (loop $scalar
            (br_if $sd (i32.ge_u (local.get $i) (local.get $k1)))
            (i32.store8 (i32.add (local.get $codes) (local.get $i))
              (call $code1 (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))
                (local.get $rf) (local.get $zf) (local.get $sf) (local.get $qmax)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scalar)))
        ;; padding codes are 0, what ORT's quantizer leaves there
        (block $pd
          (loop $pad
            (br_if $pd (i32.ge_u (local.get $i) (i32.add (local.get $k0) (local.get $bs))))
            (i32.store8 (i32.add (local.get $codes) (local.get $i)) (i32.const 0))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $pad)))
        (local.set $recip (i32.add (local.get $recip) (i32.const 4)))
        (local.set $zps (i32.add (local.get $zps) (i32.const 4)))
        (local.set $scale (i32.add (local.get $scale) (i32.const 4)))
        (local.set $k0 (i32.add (local.get $k0) (local.get $bs)))
        (br $blocks)))
    (global.set $signalV (f64x2.add (global.get $signalV) (local.get $sig)))
    (global.set $errorV (f64x2.add (global.get $errorV) (local.get $err))))

  ;; Packs $count consecutive codes at $codes into bytes at $b, (8 / bits) codes per byte, low bits first.
  (func (export "packRun") (param $codes i32) (param $count i32) (param $b i32) (param $bits i32)
    (local $end i32) (local $per i32) (local $k i32) (local $byte i32) (local $v v128)
    (local.set $per (i32.div_u (i32.const 8) (local.get $bits)))
    (local.set $end (i32.add (local.get $codes) (local.get $count)))
    ;; 4 bits: sixteen codes at a time, the even ones in the low halves of eight bytes, the odd ones above
    (if (i32.eq (local.get $bits) (i32.const 4))
      (then
        (block $vd
          (loop $vec
            (br_if $vd (i32.gt_u (i32.add (local.get $codes) (i32.const 16)) (local.get $end)))
            (local.set $v (v128.load (local.get $codes)))
            (v128.store64_lane 0 (local.get $b)
              (v128.or
                (i8x16.shuffle 0 2 4 6 8 10 12 14 0 0 0 0 0 0 0 0 (local.get $v) (local.get $v))
                (i8x16.shl (i8x16.shuffle 1 3 5 7 9 11 13 15 0 0 0 0 0 0 0 0 (local.get $v) (local.get $v))
                  (i32.const 4))))
            (local.set $codes (i32.add (local.get $codes) (i32.const 16)))
            (local.set $b (i32.add (local.get $b) (i32.const 8)))
            (br $vec)))))
    (block $done
      (loop $bytes
        (br_if $done (i32.ge_u (local.get $codes) (local.get $end)))
        (local.set $byte (i32.const 0))
        (local.set $k (i32.const 0))
        (block $kd
          (loop $ks
            (br_if $kd (i32.ge_u (local.get $k) (local.get $per)))
            (local.set $byte (i32.or (local.get $byte)
              (i32.shl (i32.load8_u (local.get $codes)) (i32.mul (local.get $k) (local.get $bits)))))
            (local.set $codes (i32.add (local.get $codes) (i32.const 1)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $ks)))
        (i32.store8 (local.get $b) (local.get $byte))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bytes))))

  ;; Packs a [block, n] block of codes at $codes column by column into MatMulNBits' [n, k_blocks, blob]
  ;; layout at $b: byte j of column c holds codes (j * perByte + k) for k < perByte, low bits first.
  ;; Sixteen columns at a time: each byte of a row is one column, so shifting and or-ing perByte rows
  ;; gives byte j of sixteen columns, which are then stored one lane each, nStride apart; when a column's
  ;; blob is 16 bytes (block 32 at 4 bits, the default), the sixteen such vectors are staged at $tmp (256
  ;; bytes) and transposed, so each column's blob is one 16-byte store.
  (func (export "pack")
    (param $codes i32) (param $b i32) (param $n i32) (param $nStride i32) (param $blob i32) (param $bits i32)
    (param $tmp i32)
    (local $col i32) (local $j i32) (local $k i32) (local $per i32) (local $byte i32) (local $src i32)
    (local $dst i32) (local $acc v128) (local $p i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $r4 v128) (local $r5 v128) (local $r6 v128) (local $r7 v128) (local $r8 v128) (local $r9 v128) (local $r10 v128) (local $r11 v128) (local $r12 v128) (local $r13 v128) (local $r14 v128) (local $r15 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s4 v128) (local $s5 v128) (local $s6 v128) (local $s7 v128) (local $s8 v128) (local $s9 v128) (local $s10 v128) (local $s11 v128) (local $s12 v128) (local $s13 v128) (local $s14 v128) (local $s15 v128)
    (local.set $per (i32.div_u (i32.const 8) (local.get $bits)))
    (block $vdone
      (loop $vcols
        (br_if $vdone (i32.gt_u (i32.add (local.get $col) (i32.const 16)) (local.get $n)))
        (local.set $src (i32.add (local.get $codes) (local.get $col)))
        (local.set $dst (i32.add (local.get $b) (i32.mul (local.get $col) (local.get $nStride))))
        (local.set $j (i32.const 0))
        (block $bd
          (loop $bytes
            (br_if $bd (i32.ge_u (local.get $j) (local.get $blob)))
            (local.set $acc (v128.const i32x4 0 0 0 0))
            (local.set $k (i32.const 0))
            (block $kd
              (loop $ks
                (br_if $kd (i32.ge_u (local.get $k) (local.get $per)))
                (local.set $acc (v128.or (local.get $acc)
                  (i8x16.shl (v128.load (local.get $src)) (i32.mul (local.get $k) (local.get $bits)))))
                (local.set $src (i32.add (local.get $src) (local.get $n)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $ks)))
            ;; blob = 16: byte j of the sixteen columns goes to the 16x16 staging block at $tmp, which is
            ;; transposed once all sixteen are there (one 16-byte store per column)
            (if (i32.eq (local.get $blob) (i32.const 16))
              (then (v128.store (i32.add (local.get $tmp) (i32.shl (local.get $j) (i32.const 4))) (local.get $acc)))
              (else
                (local.set $p (i32.add (local.get $dst) (local.get $j)))
                (v128.store8_lane 0 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 1 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 2 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 3 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 4 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 5 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 6 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 7 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 8 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 9 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 10 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 11 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 12 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 13 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 14 (local.get $p) (local.get $acc))
                (local.set $p (i32.add (local.get $p) (local.get $nStride)))
                (v128.store8_lane 15 (local.get $p) (local.get $acc))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $bytes)))
        (if (i32.eq (local.get $blob) (i32.const 16))
          (then
            ;; four rounds of interleaving rows i and i + 8 transpose the 16x16 bytes
            (local.set $p (local.get $dst))
            (local.set $r0 (v128.load offset=0 (local.get $tmp)))
            (local.set $r1 (v128.load offset=16 (local.get $tmp)))
            (local.set $r2 (v128.load offset=32 (local.get $tmp)))
            (local.set $r3 (v128.load offset=48 (local.get $tmp)))
            (local.set $r4 (v128.load offset=64 (local.get $tmp)))
            (local.set $r5 (v128.load offset=80 (local.get $tmp)))
            (local.set $r6 (v128.load offset=96 (local.get $tmp)))
            (local.set $r7 (v128.load offset=112 (local.get $tmp)))
            (local.set $r8 (v128.load offset=128 (local.get $tmp)))
            (local.set $r9 (v128.load offset=144 (local.get $tmp)))
            (local.set $r10 (v128.load offset=160 (local.get $tmp)))
            (local.set $r11 (v128.load offset=176 (local.get $tmp)))
            (local.set $r12 (v128.load offset=192 (local.get $tmp)))
            (local.set $r13 (v128.load offset=208 (local.get $tmp)))
            (local.set $r14 (v128.load offset=224 (local.get $tmp)))
            (local.set $r15 (v128.load offset=240 (local.get $tmp)))
            (local.set $s0 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r0) (local.get $r8)))
            (local.set $s1 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r0) (local.get $r8)))
            (local.set $s2 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r1) (local.get $r9)))
            (local.set $s3 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r1) (local.get $r9)))
            (local.set $s4 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r2) (local.get $r10)))
            (local.set $s5 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r2) (local.get $r10)))
            (local.set $s6 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r3) (local.get $r11)))
            (local.set $s7 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r3) (local.get $r11)))
            (local.set $s8 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r4) (local.get $r12)))
            (local.set $s9 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r4) (local.get $r12)))
            (local.set $s10 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r5) (local.get $r13)))
            (local.set $s11 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r5) (local.get $r13)))
            (local.set $s12 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r6) (local.get $r14)))
            (local.set $s13 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r6) (local.get $r14)))
            (local.set $s14 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r7) (local.get $r15)))
            (local.set $s15 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r7) (local.get $r15)))
            (local.set $r0 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s0) (local.get $s8)))
            (local.set $r1 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s0) (local.get $s8)))
            (local.set $r2 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s1) (local.get $s9)))
            (local.set $r3 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s1) (local.get $s9)))
            (local.set $r4 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s2) (local.get $s10)))
            (local.set $r5 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s2) (local.get $s10)))
            (local.set $r6 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s3) (local.get $s11)))
            (local.set $r7 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s3) (local.get $s11)))
            (local.set $r8 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s4) (local.get $s12)))
            (local.set $r9 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s4) (local.get $s12)))
            (local.set $r10 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s5) (local.get $s13)))
            (local.set $r11 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s5) (local.get $s13)))
            (local.set $r12 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s6) (local.get $s14)))
            (local.set $r13 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s6) (local.get $s14)))
            (local.set $r14 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s7) (local.get $s15)))
            (local.set $r15 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s7) (local.get $s15)))
            (local.set $s0 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r0) (local.get $r8)))
            (local.set $s1 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r0) (local.get $r8)))
            (local.set $s2 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r1) (local.get $r9)))
            (local.set $s3 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r1) (local.get $r9)))
            (local.set $s4 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r2) (local.get $r10)))
            (local.set $s5 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r2) (local.get $r10)))
            (local.set $s6 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r3) (local.get $r11)))
            (local.set $s7 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r3) (local.get $r11)))
            (local.set $s8 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r4) (local.get $r12)))
            (local.set $s9 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r4) (local.get $r12)))
            (local.set $s10 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r5) (local.get $r13)))
            (local.set $s11 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r5) (local.get $r13)))
            (local.set $s12 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r6) (local.get $r14)))
            (local.set $s13 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r6) (local.get $r14)))
            (local.set $s14 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $r7) (local.get $r15)))
            (local.set $s15 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $r7) (local.get $r15)))
            (local.set $r0 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s0) (local.get $s8)))
            (local.set $r1 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s0) (local.get $s8)))
            (local.set $r2 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s1) (local.get $s9)))
            (local.set $r3 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s1) (local.get $s9)))
            (local.set $r4 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s2) (local.get $s10)))
            (local.set $r5 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s2) (local.get $s10)))
            (local.set $r6 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s3) (local.get $s11)))
            (local.set $r7 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s3) (local.get $s11)))
            (local.set $r8 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s4) (local.get $s12)))
            (local.set $r9 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s4) (local.get $s12)))
            (local.set $r10 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s5) (local.get $s13)))
            (local.set $r11 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s5) (local.get $s13)))
            (local.set $r12 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s6) (local.get $s14)))
            (local.set $r13 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s6) (local.get $s14)))
            (local.set $r14 (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $s7) (local.get $s15)))
            (local.set $r15 (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $s7) (local.get $s15)))
            (v128.store (local.get $p) (local.get $r0))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r1))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r2))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r3))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r4))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r5))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r6))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r7))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r8))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r9))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r10))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r11))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r12))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r13))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r14))
            (local.set $p (i32.add (local.get $p) (local.get $nStride)))
            (v128.store (local.get $p) (local.get $r15))))
        (local.set $col (i32.add (local.get $col) (i32.const 16)))
        (br $vcols)))
    ;; The last n mod 16 columns, one code at a time.
    (block $done
      (loop $cols
        (br_if $done (i32.ge_u (local.get $col) (local.get $n)))
        (local.set $src (i32.add (local.get $codes) (local.get $col)))
        (local.set $dst (i32.add (local.get $b) (i32.mul (local.get $col) (local.get $nStride))))
        (local.set $j (i32.const 0))
        (block $bd
          (loop $bytes
            (br_if $bd (i32.ge_u (local.get $j) (local.get $blob)))
            (local.set $byte (i32.const 0))
            (local.set $k (i32.const 0))
            (block $kd
              (loop $ks
                (br_if $kd (i32.ge_u (local.get $k) (local.get $per)))
                (local.set $byte (i32.or (local.get $byte)
                  (i32.shl (i32.load8_u (local.get $src)) (i32.mul (local.get $k) (local.get $bits)))))
                (local.set $src (i32.add (local.get $src) (local.get $n)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $ks)))
            (i32.store8 (i32.add (local.get $dst) (local.get $j)) (local.get $byte))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $bytes)))
        (local.set $col (i32.add (local.get $col) (i32.const 1)))
        (br $cols))))
)
