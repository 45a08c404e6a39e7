// Port of Go's text/template/parse/lex.go (the synchronous lexer of Go 1.20+): state functions
// that each scan one item. Positions are indexes into the JS string; Tree.ErrorContext turns them
// into Go's byte columns.
import { sprintf } from "./fmt.js";
import { isPrint } from "./strconv.js";

export type Pos = number;

export interface Item {
  typ: ItemType;
  pos: Pos;
  val: string;
  line: number;
}

export type ItemType = number;

export const itemError = 0; // error occurred; value is text of error
export const itemBool = 1; // boolean constant
export const itemChar = 2; // printable ASCII character; grab bag for comma etc.
export const itemCharConstant = 3; // character constant
export const itemComment = 4; // comment text
export const itemComplex = 5; // complex constant (1+2i); imaginary is just a number
export const itemAssign = 6; // equals ('=') introducing an assignment
export const itemDeclare = 7; // colon-equals (':=') introducing a declaration
export const itemEOF = 8;
export const itemField = 9; // alphanumeric identifier starting with '.'
export const itemIdentifier = 10; // alphanumeric identifier not starting with '.'
export const itemLeftDelim = 11; // left action delimiter
export const itemLeftParen = 12; // '(' inside action
export const itemNumber = 13; // simple number, including imaginary
export const itemPipe = 14; // pipe symbol
export const itemRawString = 15; // raw quoted string (includes quotes)
export const itemRightDelim = 16; // right action delimiter
export const itemRightParen = 17; // ')' inside action
export const itemSpace = 18; // run of spaces separating arguments
export const itemString = 19; // quoted string (includes quotes)
export const itemText = 20; // plain text
export const itemVariable = 21; // variable starting with '$', such as '$' or  '$1' or '$hello'
// Keywords appear after all the rest.
export const itemKeyword = 22; // used only to delimit the keywords
export const itemBlock = 23; // block keyword
export const itemBreak = 24; // break keyword
export const itemContinue = 25; // continue keyword
export const itemDot = 26; // the cursor, spelled '.'
export const itemDefine = 27; // define keyword
export const itemElse = 28; // else keyword
export const itemEnd = 29; // end keyword
export const itemIf = 30; // if keyword
export const itemNil = 31; // the untyped nil constant, easiest to treat as a keyword
export const itemRange = 32; // range keyword
export const itemTemplate = 33; // template keyword
export const itemWith = 34; // with keyword

const key: Record<string, ItemType> = {
  ".": itemDot,
  block: itemBlock,
  break: itemBreak,
  continue: itemContinue,
  define: itemDefine,
  else: itemElse,
  end: itemEnd,
  if: itemIf,
  range: itemRange,
  nil: itemNil,
  template: itemTemplate,
  with: itemWith,
};

/** item.String() from lex.go, used in parse error messages. */
export const itemString_ = (i: Item): string => {
  if (i.typ === itemEOF) return "EOF";
  if (i.typ === itemError) return i.val;
  if (i.typ > itemKeyword) return `<${i.val}>`;
  if (Buffer.byteLength(i.val, "utf8") > 10) return sprintf("%.10q...", i.val);
  return sprintf("%q", i.val);
};

const eof = -1;

// Trimming spaces: "{{- " trims the space before the action, " -}}" the space after it. The ASCII
// space is required so "{{-3}}" stays a number.
const spaceChars = " \t\r\n";
const trimMarker = "-";
const trimMarkerLen = 2; // marker plus space before or after

type StateFn = ((l: Lexer) => StateFn) | null;

interface LexOptions {
  emitComment: boolean;
  breakOK: boolean;
  continueOK: boolean;
}

export const leftDelim = "{{";
export const rightDelim = "}}";
const leftComment = "/*";
const rightComment = "*/";

export class Lexer {
  pos: Pos = 0;
  start: Pos = 0;
  atEOF = false;
  parenDepth = 0;
  line = 1;
  startLine = 1;
  item: Item = { typ: itemEOF, pos: 0, val: "EOF", line: 1 };
  insideAction = false;
  options: LexOptions = { emitComment: false, breakOK: false, continueOK: false };

  constructor(
    readonly name: string,
    public input: string,
    readonly leftDelim: string,
    readonly rightDelim: string,
  ) {}

  next(): number {
    if (this.pos >= this.input.length) {
      this.atEOF = true;
      return eof;
    }
    const r = this.input.codePointAt(this.pos)!;
    this.pos += r > 0xffff ? 2 : 1;
    if (r === 0x0a) this.line++;
    return r;
  }

  peek(): number {
    const r = this.next();
    this.backup();
    return r;
  }

  backup(): void {
    if (!this.atEOF && this.pos > 0) {
      const lo = this.input.charCodeAt(this.pos - 1);
      const w = lo >= 0xdc00 && lo <= 0xdfff && this.pos >= 2 ? 2 : 1;
      this.pos -= w;
      if (lo === 0x0a) this.line--;
    }
  }

  thisItem(t: ItemType): Item {
    const i = { typ: t, pos: this.start, val: this.input.slice(this.start, this.pos), line: this.startLine };
    this.start = this.pos;
    this.startLine = this.line;
    return i;
  }

  emit(t: ItemType): StateFn {
    return this.emitItem(this.thisItem(t));
  }

  emitItem(i: Item): StateFn {
    this.item = i;
    return null;
  }

  /** Skips pending input; counts its newlines, so use it only for text skipped without next(). */
  ignore(): void {
    this.line += countNewlines(this.input.slice(this.start, this.pos));
    this.start = this.pos;
    this.startLine = this.line;
  }

  accept(valid: string): boolean {
    const r = this.next();
    if (r !== eof && valid.includes(String.fromCodePoint(r))) return true;
    this.backup();
    return false;
  }

  acceptRun(valid: string): void {
    for (;;) {
      const r = this.next();
      if (r === eof || !valid.includes(String.fromCodePoint(r))) break;
    }
    this.backup();
  }

  errorf(format: string, ...args: unknown[]): StateFn {
    this.item = { typ: itemError, pos: this.start, val: sprintf(format, ...args), line: this.startLine };
    this.start = 0;
    this.pos = 0;
    this.input = "";
    return null;
  }

  nextItem(): Item {
    this.item = { typ: itemEOF, pos: this.pos, val: "EOF", line: this.startLine };
    let state: StateFn = this.insideAction ? lexInsideAction : lexText;
    for (;;) {
      state = state(this);
      if (state === null) return this.item;
    }
  }

  /** Whether the lexer is at a right delimiter, possibly preceded by a trim marker. */
  atRightDelim(): { delim: boolean; trimSpaces: boolean } {
    const rest = this.input.slice(this.pos);
    if (hasRightTrimMarker(rest) && rest.slice(trimMarkerLen).startsWith(this.rightDelim)) return { delim: true, trimSpaces: true };
    if (rest.startsWith(this.rightDelim)) return { delim: true, trimSpaces: false };
    return { delim: false, trimSpaces: false };
  }

  /** Whether the input is at a character that may end an identifier. */
  atTerminator(): boolean {
    const r = this.peek();
    if (isSpace(r)) return true;
    switch (r) {
      case eof:
      case 0x2e: case 0x2c: case 0x7c: case 0x3a: case 0x29: case 0x28: // . , | : ) (
        return true;
    }
    return this.input.slice(this.pos).startsWith(this.rightDelim);
  }

  scanNumber(): boolean {
    this.accept("+-");
    let digits = "0123456789_";
    if (this.accept("0")) {
      // Note: Leading 0 does not mean octal in floats.
      if (this.accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (this.accept("oO")) digits = "01234567_";
      else if (this.accept("bB")) digits = "01_";
    }
    this.acceptRun(digits);
    if (this.accept(".")) this.acceptRun(digits);
    if (digits.length === 10 + 1 && this.accept("eE")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    if (digits.length === 16 + 6 + 1 && this.accept("pP")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    this.accept("i");
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }
}

const countNewlines = (s: string): number => {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
};

/** lex creates a new scanner for the input string. */
export const lex = (name: string, input: string, left: string, right: string): Lexer =>
  new Lexer(name, input, left === "" ? leftDelim : left, right === "" ? rightDelim : right);

const rightTrimLength = (s: string): number => s.length - trimRightSpace(s).length;
const leftTrimLength = (s: string): number => s.length - trimLeftSpace(s).length;

const trimRightSpace = (s: string): string => {
  let e = s.length;
  while (e > 0 && spaceChars.includes(s[e - 1])) e--;
  return s.slice(0, e);
};
const trimLeftSpace = (s: string): string => {
  let b = 0;
  while (b < s.length && spaceChars.includes(s[b])) b++;
  return s.slice(b);
};

/** lexText scans until an opening action delimiter. */
const lexText = (l: Lexer): StateFn => {
  const x = l.input.indexOf(l.leftDelim, l.pos);
  if (x >= 0) {
    if (x > l.pos) {
      l.pos = x;
      let trimLength = 0;
      const delimEnd = l.pos + l.leftDelim.length;
      if (hasLeftTrimMarker(l.input.slice(delimEnd))) trimLength = rightTrimLength(l.input.slice(l.start, l.pos));
      l.pos -= trimLength;
      l.line += countNewlines(l.input.slice(l.start, l.pos));
      const i = l.thisItem(itemText);
      l.pos += trimLength;
      l.ignore();
      if (i.val.length > 0) return l.emitItem(i);
    }
    return lexLeftDelim;
  }
  l.pos = l.input.length;
  if (l.pos > l.start) {
    l.line += countNewlines(l.input.slice(l.start, l.pos));
    return l.emit(itemText);
  }
  return l.emit(itemEOF);
};

/** lexLeftDelim scans the left delimiter, which is known to be present, possibly with a trim marker. */
const lexLeftDelim = (l: Lexer): StateFn => {
  l.pos += l.leftDelim.length;
  const trimSpace = hasLeftTrimMarker(l.input.slice(l.pos));
  const afterMarker = trimSpace ? trimMarkerLen : 0;
  if (l.input.slice(l.pos + afterMarker).startsWith(leftComment)) {
    l.pos += afterMarker;
    l.ignore();
    return lexComment;
  }
  const i = l.thisItem(itemLeftDelim);
  l.insideAction = true;
  l.pos += afterMarker;
  l.ignore();
  l.parenDepth = 0;
  return l.emitItem(i);
};

/** lexComment scans a comment. The left comment marker is known to be present. */
const lexComment = (l: Lexer): StateFn => {
  l.pos += leftComment.length;
  const x = l.input.indexOf(rightComment, l.pos);
  if (x < 0) return l.errorf("unclosed comment");
  l.pos = x + rightComment.length;
  const { delim, trimSpaces } = l.atRightDelim();
  if (!delim) return l.errorf("comment ends before closing delimiter");
  l.line += countNewlines(l.input.slice(l.start, l.pos));
  const i = l.thisItem(itemComment);
  if (trimSpaces) l.pos += trimMarkerLen;
  l.pos += l.rightDelim.length;
  if (trimSpaces) l.pos += leftTrimLength(l.input.slice(l.pos));
  l.ignore();
  if (l.options.emitComment) return l.emitItem(i);
  return lexText;
};

/** lexRightDelim scans the right delimiter, which is known to be present, possibly with a trim marker. */
const lexRightDelim = (l: Lexer): StateFn => {
  const { trimSpaces } = l.atRightDelim();
  if (trimSpaces) {
    l.pos += trimMarkerLen;
    l.ignore();
  }
  l.pos += l.rightDelim.length;
  const i = l.thisItem(itemRightDelim);
  if (trimSpaces) {
    l.pos += leftTrimLength(l.input.slice(l.pos));
    l.ignore();
  }
  l.insideAction = false;
  return l.emitItem(i);
};

/** lexInsideAction scans the elements inside action delimiters. */
const lexInsideAction = (l: Lexer): StateFn => {
  const { delim } = l.atRightDelim();
  if (delim) {
    if (l.parenDepth === 0) return lexRightDelim;
    return l.errorf("unclosed left paren");
  }
  const r = l.next();
  switch (true) {
    case r === eof:
      return l.errorf("unclosed action");
    case isSpace(r):
      l.backup(); // Put space back in case we have " -}}".
      return lexSpace;
    case r === 0x3d: // '='
      return l.emit(itemAssign);
    case r === 0x3a: // ':'
      if (l.next() !== 0x3d) return l.errorf("expected :=");
      return l.emit(itemDeclare);
    case r === 0x7c: // '|'
      return l.emit(itemPipe);
    case r === 0x22: // '"'
      return lexQuote;
    case r === 0x60: // '`'
      return lexRawQuote;
    case r === 0x24: // '$'
      return lexVariable;
    case r === 0x27: // '\''
      return lexChar;
    case r === 0x2e: // '.'
      // special look-ahead for ".field" so we don't break l.backup().
      if (l.pos < l.input.length) {
        const c = l.input[l.pos];
        if (c < "0" || "9" < c) return lexField;
      }
      l.backup();
      return lexNumber;
    case r === 0x2b || r === 0x2d || (r >= 0x30 && r <= 0x39): // '+' '-' digit
      l.backup();
      return lexNumber;
    case isAlphaNumeric(r):
      l.backup();
      return lexIdentifier;
    case r === 0x28: // '('
      l.parenDepth++;
      return l.emit(itemLeftParen);
    case r === 0x29: // ')'
      l.parenDepth--;
      if (l.parenDepth < 0) return l.errorf("unexpected right paren");
      return l.emit(itemRightParen);
    case r <= 0x7f && isPrint(r):
      return l.emit(itemChar);
    default:
      return l.errorf("unrecognized character in action: %#U", r);
  }
};

/** lexSpace scans a run of space characters; a trim-marked right delimiter starts with one. */
const lexSpace = (l: Lexer): StateFn => {
  let numSpaces = 0;
  for (;;) {
    const r = l.peek();
    if (!isSpace(r)) break;
    l.next();
    numSpaces++;
  }
  // Be careful about a trim-marked closing delimiter, which has a minus after a space.
  if (hasRightTrimMarker(l.input.slice(l.pos - 1)) && l.input.slice(l.pos - 1 + trimMarkerLen).startsWith(l.rightDelim)) {
    l.backup(); // Before the space.
    if (numSpaces === 1) return lexRightDelim; // On the delim, so go right to that.
  }
  return l.emit(itemSpace);
};

/** lexIdentifier scans an alphanumeric. */
const lexIdentifier = (l: Lexer): StateFn => {
  for (;;) {
    const r = l.next();
    if (isAlphaNumeric(r)) continue;
    l.backup();
    const word = l.input.slice(l.start, l.pos);
    if (!l.atTerminator()) return l.errorf("bad character %#U", r);
    const k = Object.hasOwn(key, word) ? key[word] : 0;
    if (k > itemKeyword) {
      if ((k === itemBreak && !l.options.breakOK) || (k === itemContinue && !l.options.continueOK)) return l.emit(itemIdentifier);
      return l.emit(k);
    }
    if (word[0] === ".") return l.emit(itemField);
    if (word === "true" || word === "false") return l.emit(itemBool);
    return l.emit(itemIdentifier);
  }
};

/** lexField scans a field: .Alphanumeric. The . has been scanned. */
const lexField = (l: Lexer): StateFn => lexFieldOrVariable(l, itemField);

/** lexVariable scans a Variable: $Alphanumeric. The $ has been scanned. */
const lexVariable = (l: Lexer): StateFn => {
  if (l.atTerminator()) return l.emit(itemVariable); // Nothing interesting follows -> "$".
  return lexFieldOrVariable(l, itemVariable);
};

/** lexFieldOrVariable scans a field or variable: [.$]Alphanumeric. The . or $ has been scanned. */
const lexFieldOrVariable = (l: Lexer, typ: ItemType): StateFn => {
  if (l.atTerminator()) {
    // Nothing interesting follows -> "." or "$".
    if (typ === itemVariable) return l.emit(itemVariable);
    return l.emit(itemDot);
  }
  let r: number;
  for (;;) {
    r = l.next();
    if (!isAlphaNumeric(r)) {
      l.backup();
      break;
    }
  }
  if (!l.atTerminator()) return l.errorf("bad character %#U", r);
  return l.emit(typ);
};

/** lexChar scans a character constant. The initial quote is already scanned. */
const lexChar = (l: Lexer): StateFn => {
  for (;;) {
    let r = l.next();
    if (r === 0x5c) {
      r = l.next();
      if (r !== eof && r !== 0x0a) continue;
      return l.errorf("unterminated character constant");
    }
    if (r === eof || r === 0x0a) return l.errorf("unterminated character constant");
    if (r === 0x27) break;
  }
  return l.emit(itemCharConstant);
};

/**
 * lexNumber scans a number: decimal, octal, hex, float, or imaginary. Like Go's, it accepts some
 * invalid input ("089"), which the parser then rejects.
 */
const lexNumber = (l: Lexer): StateFn => {
  if (!l.scanNumber()) return l.errorf("bad number syntax: %q", l.input.slice(l.start, l.pos));
  const sign = l.peek();
  if (sign === 0x2b || sign === 0x2d) {
    // Complex: 1+2i. No spaces, must end in 'i'.
    if (!l.scanNumber() || l.input[l.pos - 1] !== "i") return l.errorf("bad number syntax: %q", l.input.slice(l.start, l.pos));
    return l.emit(itemComplex);
  }
  return l.emit(itemNumber);
};

/** lexQuote scans a quoted string. */
const lexQuote = (l: Lexer): StateFn => {
  for (;;) {
    let r = l.next();
    if (r === 0x5c) {
      r = l.next();
      if (r !== eof && r !== 0x0a) continue;
      return l.errorf("unterminated quoted string");
    }
    if (r === eof || r === 0x0a) return l.errorf("unterminated quoted string");
    if (r === 0x22) break;
  }
  return l.emit(itemString);
};

/** lexRawQuote scans a raw quoted string. */
const lexRawQuote = (l: Lexer): StateFn => {
  for (;;) {
    const r = l.next();
    if (r === eof) return l.errorf("unterminated raw quoted string");
    if (r === 0x60) break;
  }
  return l.emit(itemRawString);
};

export const isSpace = (r: number): boolean => r === 0x20 || r === 0x09 || r === 0x0d || r === 0x0a;

const letterOrDigit = /^[\p{L}\p{Nd}]$/u;

/** isAlphaNumeric reports whether r is an alphabetic, digit, or underscore. */
export const isAlphaNumeric = (r: number): boolean => {
  if (r < 0) return false;
  if (r < 0x80) return r === 0x5f || (r >= 0x30 && r <= 0x39) || (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a);
  return letterOrDigit.test(String.fromCodePoint(r));
};

const hasLeftTrimMarker = (s: string): boolean => s.length >= 2 && s[0] === trimMarker && isSpace(s.charCodeAt(1));

const hasRightTrimMarker = (s: string): boolean => s.length >= 2 && isSpace(s.charCodeAt(0)) && s[1] === trimMarker;
