// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {ERC1155Utils} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Utils.sol";
import {ERC165, IERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title ERC-1155 balances allocated lazily per minted batch
/// @notice Prototype of a cheaper registration: minting a batch writes no balance slot.
/// The batch's holder and packed quantities go into the code of one data contract
/// (the SSTORE2 pattern: code costs 200 gas per byte, a new storage slot 22,100 gas),
/// and one bit marks where the batch starts. Until a token is first moved, its whole
/// quantity belongs to the batch holder; the first move writes the holder's balance.
/// @dev Storage per batch: one data contract, one bit in `_batchStarts` and one
/// pointer slot. Token ids are consecutive from 1. A batch has at most `MAX_BATCH_SIZE`
/// ids, so finding the batch of an id reads at most two bitmap words, whatever the
/// number of batches. The batch holder's balance slot carries `_TOUCHED` (bit 255) once
/// written, so a zero balance after a move is told apart from "never moved".
abstract contract LazyBatchBalances is ERC165, IERC1155, IERC1155MetadataURI, IERC1155Errors {
    /*//////////////////////////////////////////////////////////////
                                CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Most ids in one batch.
    uint256 public constant MAX_BATCH_SIZE = 256;

    uint256 private constant _TOUCHED = 1 << 255;
    // Data contract init code: PUSH2 len, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY,
    // RETURNDATASIZE, RETURN. Its runtime code is a STOP byte, then the batch data.
    uint256 private constant _INIT_CODE_BYTES = 10;
    // Batch data layout: holder (20 bytes), commitment (32), then 8 bytes per quantity.
    uint256 private constant _HOLDER_OFFSET = 1;
    uint256 private constant _COMMITMENT_OFFSET = 21;
    uint256 private constant _QUANTITIES_OFFSET = 53;
    // Memory offset, from a `bytes` pointer, of the 32-byte word whose last 8 bytes are
    // quantity 0: 32 (length word) + 10 (init code) + 53 (quantities offset) + 8 - 32.
    uint256 private constant _FIRST_QUANTITY_WORD = 71;

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice A batch was empty or had more than `MAX_BATCH_SIZE` ids.
    error LazyBatchBalancesInvalidBatchSize(uint256 size);

    /// @notice A minted quantity was zero or did not fit in 64 bits.
    error LazyBatchBalancesInvalidQuantity(uint256 id, uint256 quantity);

    /// @notice Creating the data contract of a batch failed.
    error LazyBatchBalancesDataNotStored();

    /*//////////////////////////////////////////////////////////////
                                 STORAGE
    //////////////////////////////////////////////////////////////*/

    // Raw balance slots: the amount, plus `_TOUCHED` in the batch holder's slot.
    mapping(uint256 id => mapping(address account => uint256)) private _balances;
    mapping(address account => mapping(address operator => bool)) private _operatorApprovals;
    // Bit (id & 255) of word (id >> 8) is set when a batch starts at `id`.
    mapping(uint256 word => uint256) private _batchStarts;
    mapping(uint256 firstId => address) private _batchData;
    uint256 private _idCount;

    /*//////////////////////////////////////////////////////////////
                                 ERC-1155
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IERC1155).interfaceId || interfaceId == type(IERC1155MetadataURI).interfaceId
            || super.supportsInterface(interfaceId);
    }

    /// @inheritdoc IERC1155MetadataURI
    function uri(uint256) public view virtual returns (string memory) {
        return "";
    }

    /// @inheritdoc IERC1155
    function balanceOf(address account, uint256 id) public view virtual returns (uint256) {
        uint256 raw = _balances[id][account];
        if (raw != 0) return raw & ~_TOUCHED;
        return _untouchedAllocation(account, id);
    }

    /// @inheritdoc IERC1155
    function balanceOfBatch(address[] memory accounts, uint256[] memory ids)
        public
        view
        virtual
        returns (uint256[] memory balances)
    {
        if (accounts.length != ids.length) revert ERC1155InvalidArrayLength(ids.length, accounts.length);
        balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            balances[i] = balanceOf(accounts[i], ids[i]);
        }
    }

    /// @inheritdoc IERC1155
    function setApprovalForAll(address operator, bool approved) public virtual {
        if (operator == address(0)) revert ERC1155InvalidOperator(address(0));
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    /// @inheritdoc IERC1155
    function isApprovedForAll(address account, address operator) public view virtual returns (bool) {
        return _operatorApprovals[account][operator];
    }

    /// @inheritdoc IERC1155
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes memory data) public virtual {
        _checkOperator(from);
        _checkParties(from, to);
        _moveOne(from, to, id, value);
        emit TransferSingle(msg.sender, from, to, id, value);
        ERC1155Utils.checkOnERC1155Received(msg.sender, from, to, id, value, data);
    }

    /// @inheritdoc IERC1155
    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) public virtual {
        _checkOperator(from);
        _checkParties(from, to);
        if (ids.length != values.length) revert ERC1155InvalidArrayLength(ids.length, values.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            _moveOne(from, to, ids[i], values[i]);
        }
        _emitAndCheck(from, to, ids, values, data);
    }

    /*//////////////////////////////////////////////////////////////
                                 BATCHES
    //////////////////////////////////////////////////////////////*/

    /// @notice Returns the number of minted ids; ids run from 1 to this number.
    function _mintedIds() internal view returns (uint256) {
        return _idCount;
    }

    /// @notice Returns the first id of the batch that contains `id`, and its data contract.
    /// @dev `id` must be minted (1 to `_mintedIds()`).
    function _batchOf(uint256 id) internal view returns (uint256 firstId, address data) {
        uint256 word = id >> 8;
        uint256 starts = _batchStarts[word] & (type(uint256).max >> (255 - (id & 255)));
        // A batch has at most 256 ids, so its start is in this word or the one before.
        if (starts == 0) {
            word -= 1;
            starts = _batchStarts[word];
        }
        firstId = (word << 8) | Math.log2(starts);
        data = _batchData[firstId];
    }

    /// @notice Returns the commitment stored in the batch data contract `data`.
    function _batchCommitment(address data) internal view returns (bytes32 commitment) {
        assembly ("memory-safe") {
            extcodecopy(data, 0x00, _COMMITMENT_OFFSET, 32)
            commitment := mload(0x00)
        }
    }

    /// @notice Mints `quantities[i]` of ids `firstId + i` to `holder` without writing any
    /// balance, and stores `commitment` with the batch.
    /// @dev Emits {TransferBatch} from the zero address ({TransferSingle} for one id), then
    /// runs the receiver check.
    function _mintLazyBatch(address holder, bytes32 commitment, uint256[] memory quantities)
        internal
        returns (uint256 firstId)
    {
        uint256 count = quantities.length;
        if (count == 0 || count > MAX_BATCH_SIZE) revert LazyBatchBalancesInvalidBatchSize(count);
        if (holder == address(0)) revert ERC1155InvalidReceiver(address(0));

        firstId = _idCount + 1;
        uint256[] memory ids = new uint256[](count);
        bytes memory code = new bytes(_INIT_CODE_BYTES + _QUANTITIES_OFFSET + count * 8);
        // Quantities are written last to first: each 32-byte store also zeroes the 24 bytes
        // before its 8 bytes, which a later store (or the header) writes again.
        for (uint256 i = count; i > 0;) {
            unchecked {
                --i;
            }
            uint256 quantity = quantities[i];
            if (quantity == 0 || quantity > type(uint64).max) {
                revert LazyBatchBalancesInvalidQuantity(firstId + i, quantity);
            }
            ids[i] = firstId + i;
            assembly ("memory-safe") {
                mstore(add(code, add(_FIRST_QUANTITY_WORD, mul(i, 8))), quantity)
            }
        }
        uint256 runtimeBytes = code.length - _INIT_CODE_BYTES;
        address data;
        assembly ("memory-safe") {
            let start := add(code, 0x20)
            mstore(start, or(shl(248, 0x61), or(shl(232, runtimeBytes), shl(176, 0x80600a3d393df3))))
            mstore8(add(start, _INIT_CODE_BYTES), 0x00)
            mstore(add(start, add(_INIT_CODE_BYTES, _HOLDER_OFFSET)), shl(96, holder))
            mstore(add(start, add(_INIT_CODE_BYTES, _COMMITMENT_OFFSET)), commitment)
            data := create(0, start, mload(code))
        }
        if (data == address(0)) revert LazyBatchBalancesDataNotStored();

        _batchData[firstId] = data;
        _batchStarts[firstId >> 8] |= 1 << (firstId & 255);
        _idCount = firstId + count - 1;

        _emitAndCheck(address(0), holder, ids, quantities, "");
    }

    /// @notice Moves `value` of `id` from `from` to `to`, writing the batch holder's
    /// balance on the first move. Emits nothing; the caller emits the ERC-1155 event.
    function _moveOne(address from, address to, uint256 id, uint256 value) internal {
        uint256 raw = _balances[id][from];
        if (raw == 0) {
            uint256 allocated = _untouchedAllocation(from, id);
            if (allocated != 0) raw = allocated | _TOUCHED;
        }
        uint256 balance = raw & ~_TOUCHED;
        if (balance < value) revert ERC1155InsufficientBalance(from, balance, value, id);
        // Cannot underflow: checked just above. The flag bit stays as it was.
        unchecked {
            _balances[id][from] = raw - value;
        }
        // Cannot overflow: an id's total supply is below 2^64, so the flag bit is untouched.
        unchecked {
            _balances[id][to] += value;
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 PRIVATE
    //////////////////////////////////////////////////////////////*/

    // The quantity of `id` that `account` holds because nothing moved it since the mint:
    // the minted quantity for the batch holder whose slot is still empty, else zero.
    function _untouchedAllocation(address account, uint256 id) private view returns (uint256 quantity) {
        if (id == 0 || id > _idCount) return 0;
        (uint256 firstId, address data) = _batchOf(id);
        address holder;
        uint256 offset = _QUANTITIES_OFFSET + (id - firstId) * 8;
        assembly ("memory-safe") {
            mstore(0x00, 0)
            extcodecopy(data, 12, _HOLDER_OFFSET, 20)
            holder := mload(0x00)
            mstore(0x00, 0)
            extcodecopy(data, 24, offset, 8)
            quantity := mload(0x00)
        }
        return holder == account ? quantity : 0;
    }

    // Emits and checks like OpenZeppelin's ERC-1155 5.x: one id gives {TransferSingle}
    // and the single-token receiver hook, even from a batch function.
    function _emitAndCheck(address from, address to, uint256[] memory ids, uint256[] memory values, bytes memory data)
        private
    {
        if (ids.length == 1) {
            emit TransferSingle(msg.sender, from, to, ids[0], values[0]);
            ERC1155Utils.checkOnERC1155Received(msg.sender, from, to, ids[0], values[0], data);
        } else {
            emit TransferBatch(msg.sender, from, to, ids, values);
            ERC1155Utils.checkOnERC1155BatchReceived(msg.sender, from, to, ids, values, data);
        }
    }

    function _checkOperator(address from) private view {
        if (from != msg.sender && !isApprovedForAll(from, msg.sender)) {
            revert ERC1155MissingApprovalForAll(msg.sender, from);
        }
    }

    function _checkParties(address from, address to) private pure {
        if (from == address(0)) revert ERC1155InvalidSender(address(0));
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
    }
}
