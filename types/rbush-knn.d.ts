// rbush-knn 4 ships no type declarations; this is the one function it exports.
declare module 'rbush-knn' {
  import type RBush from 'rbush';
  export default function knn<T>(
    tree: RBush<T>,
    x: number,
    y: number,
    n?: number,
    predicate?: (item: T) => boolean,
    maxDistance?: number,
  ): T[];
}
