/**
 * DataView-compatible accessors (`getUint8` … `setBigInt64`) for any byte
 * store that can lend a `DataView` over a few bytes. Same names, same
 * argument order and the same big-endian default as `DataView`.
 *
 * @module
 */

/**
 * A place to read or write one value: a view and the byte index in it.
 *
 * @example
 * ```ts
 * import type { ValueSlot } from "@memmapfs/memmapfs";
 * const slot: ValueSlot = { view: new DataView(new ArrayBuffer(8)), at: 0 };
 * slot.view.setFloat64(slot.at, 1.5);
 * ```
 */
export interface ValueSlot {
  /** The view holding the value's bytes. */
  readonly view: DataView;
  /** Byte index of the value in `view`. */
  readonly at: number;
}

/**
 * Base class giving `MappedFile` the typed accessors of `DataView`: the same
 * names, argument order and big-endian default. Subclasses say where `size`
 * bytes at `offset` live; the accessors work across windows and chunks.
 *
 * @example
 * ```ts
 * import { MappedFile } from "@memmapfs/memmapfs";
 * using memory = MappedFile.anonymous(4096);
 * memory.setUint32(0, 0xdeadbeef);          // big-endian, like DataView
 * console.log(memory.getUint8(0).toString(16)); // "de"
 * console.log(memory.getUint32(0, true).toString(16)); // "efbeadde"
 * ```
 */
export abstract class TypedAccess {
  /** A slot holding the `size` bytes at `offset`, for reading. */
  protected abstract readSlot(offset: number, size: number): ValueSlot;
  /** A slot to write `size` bytes at `offset` into. */
  protected abstract writeSlot(offset: number, size: number): ValueSlot;
  /** Called after a value was written into a slot from {@linkcode writeSlot}. */
  protected abstract wrote(offset: number, size: number, slot: ValueSlot): void;

  /** Reads an unsigned 8-bit integer at `offset`. */
  getUint8(offset: number): number {
    const { view, at } = this.readSlot(offset, 1);
    return view.getUint8(at);
  }
  /** Reads a signed 8-bit integer at `offset`. */
  getInt8(offset: number): number {
    const { view, at } = this.readSlot(offset, 1);
    return view.getInt8(at);
  }
  /** Reads an unsigned 16-bit integer; big-endian unless `littleEndian`. */
  getUint16(offset: number, littleEndian?: boolean): number {
    const { view, at } = this.readSlot(offset, 2);
    return view.getUint16(at, littleEndian);
  }
  /** Reads a signed 16-bit integer; big-endian unless `littleEndian`. */
  getInt16(offset: number, littleEndian?: boolean): number {
    const { view, at } = this.readSlot(offset, 2);
    return view.getInt16(at, littleEndian);
  }
  /** Reads an unsigned 32-bit integer; big-endian unless `littleEndian`. */
  getUint32(offset: number, littleEndian?: boolean): number {
    const { view, at } = this.readSlot(offset, 4);
    return view.getUint32(at, littleEndian);
  }
  /** Reads a signed 32-bit integer; big-endian unless `littleEndian`. */
  getInt32(offset: number, littleEndian?: boolean): number {
    const { view, at } = this.readSlot(offset, 4);
    return view.getInt32(at, littleEndian);
  }
  /** Reads a 32-bit float; big-endian unless `littleEndian`. */
  getFloat32(offset: number, littleEndian?: boolean): number {
    const { view, at } = this.readSlot(offset, 4);
    return view.getFloat32(at, littleEndian);
  }
  /** Reads a 64-bit float; big-endian unless `littleEndian`. */
  getFloat64(offset: number, littleEndian?: boolean): number {
    const { view, at } = this.readSlot(offset, 8);
    return view.getFloat64(at, littleEndian);
  }
  /** Reads an unsigned 64-bit integer; big-endian unless `littleEndian`. */
  getBigUint64(offset: number, littleEndian?: boolean): bigint {
    const { view, at } = this.readSlot(offset, 8);
    return view.getBigUint64(at, littleEndian);
  }
  /** Reads a signed 64-bit integer; big-endian unless `littleEndian`. */
  getBigInt64(offset: number, littleEndian?: boolean): bigint {
    const { view, at } = this.readSlot(offset, 8);
    return view.getBigInt64(at, littleEndian);
  }

  /** Writes an unsigned 8-bit integer at `offset`. */
  setUint8(offset: number, value: number): void {
    const slot = this.writeSlot(offset, 1);
    slot.view.setUint8(slot.at, value);
    this.wrote(offset, 1, slot);
  }
  /** Writes a signed 8-bit integer at `offset`. */
  setInt8(offset: number, value: number): void {
    const slot = this.writeSlot(offset, 1);
    slot.view.setInt8(slot.at, value);
    this.wrote(offset, 1, slot);
  }
  /** Writes an unsigned 16-bit integer; big-endian unless `littleEndian`. */
  setUint16(offset: number, value: number, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 2);
    slot.view.setUint16(slot.at, value, littleEndian);
    this.wrote(offset, 2, slot);
  }
  /** Writes a signed 16-bit integer; big-endian unless `littleEndian`. */
  setInt16(offset: number, value: number, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 2);
    slot.view.setInt16(slot.at, value, littleEndian);
    this.wrote(offset, 2, slot);
  }
  /** Writes an unsigned 32-bit integer; big-endian unless `littleEndian`. */
  setUint32(offset: number, value: number, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 4);
    slot.view.setUint32(slot.at, value, littleEndian);
    this.wrote(offset, 4, slot);
  }
  /** Writes a signed 32-bit integer; big-endian unless `littleEndian`. */
  setInt32(offset: number, value: number, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 4);
    slot.view.setInt32(slot.at, value, littleEndian);
    this.wrote(offset, 4, slot);
  }
  /** Writes a 32-bit float; big-endian unless `littleEndian`. */
  setFloat32(offset: number, value: number, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 4);
    slot.view.setFloat32(slot.at, value, littleEndian);
    this.wrote(offset, 4, slot);
  }
  /** Writes a 64-bit float; big-endian unless `littleEndian`. */
  setFloat64(offset: number, value: number, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 8);
    slot.view.setFloat64(slot.at, value, littleEndian);
    this.wrote(offset, 8, slot);
  }
  /** Writes an unsigned 64-bit integer; big-endian unless `littleEndian`. */
  setBigUint64(offset: number, value: bigint, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 8);
    slot.view.setBigUint64(slot.at, value, littleEndian);
    this.wrote(offset, 8, slot);
  }
  /** Writes a signed 64-bit integer; big-endian unless `littleEndian`. */
  setBigInt64(offset: number, value: bigint, littleEndian?: boolean): void {
    const slot = this.writeSlot(offset, 8);
    slot.view.setBigInt64(slot.at, value, littleEndian);
    this.wrote(offset, 8, slot);
  }
}
