export { qemuImg, type QemuImg, type ImageInfo } from './qemu-img.js';
