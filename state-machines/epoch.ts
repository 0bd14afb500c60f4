/** Messages carry the sender's epoch; anything older than what we know is stale and dropped. */
export function isStaleEpoch(messageEpoch: number, knownEpoch: number): boolean {
  return messageEpoch < knownEpoch;
}
